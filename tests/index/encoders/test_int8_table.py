"""index.encoders.int8_table: a tiny int8-style graph (no model) and the real e5 export, split and whole, give the same output."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from index.encoders import int8_table
from index.encoders.int8_table import ROWS_INPUT, TableReader, split_model, table_reader

VOCAB, WIDTH = 3000, 16


def _tiny_model(folder, with_table: bool = True) -> None:
    """input_ids -> Gather(uint8 table) -> DequantizeLinear -> (x mask) -> sum over tokens: the e5 export's shape."""
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, (VOCAB, WIDTH), dtype=np.uint8)
    inits = [numpy_helper.from_array(table, "word.weight_quantized"),
             numpy_helper.from_array(np.array(0.01, np.float32), "word.scale"),
             numpy_helper.from_array(np.array(128, np.uint8), "word.zp"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    gather = (helper.make_node("Gather", ["word.weight_quantized", "input_ids"], ["rows_q"]) if with_table
              else helper.make_node("Cast", ["ids3"], ["rows_q"], to=TensorProto.UINT8))
    nodes = [
        helper.make_node("Unsqueeze", ["input_ids", "axis_last"], ["ids3"]),
        gather,
        helper.make_node("DequantizeLinear", ["rows_q", "word.scale", "word.zp"], ["rows"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["rows", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["embedding"], keepdims=0),
    ]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axis_last"))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(folder / "model_int8.onnx"))


def _run(path, ids, table=None):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": (ids % 5 != 0).astype(np.int64)}
    reader = table_reader(session, path)
    assert (reader is not None) == (table is not None)
    if reader is not None:
        feed[ROWS_INPUT] = reader.gather(ids)
    return session.run(["embedding"], feed)[0]


def test_split_graph_gives_the_same_vectors_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.setattr(int8_table, "MIN_TABLE_BYTES", 1024)
    _tiny_model(tmp_path)
    split = split_model(tmp_path)
    assert split == tmp_path / int8_table.LAYOUT / "model.onnx"
    assert (split.parent / int8_table.TABLE_FILE).stat().st_size == VOCAB * WIDTH
    assert split_model(tmp_path) == split  # written once
    ids = np.random.default_rng(1).integers(0, VOCAB, (4, 23), dtype=np.int64)
    ids[0, :3] = [0, VOCAB - 1, 0]
    whole = _run(tmp_path / "model_int8.onnx", ids)
    assert np.array_equal(_run(split, ids, table=True), whole)


def test_reader_gathers_rows_and_refuses_ids_outside_the_table(tmp_path):
    table = np.arange(40 * 8, dtype=np.uint8).reshape(40, 8)
    table.tofile(tmp_path / "t.bin")
    reader = TableReader(tmp_path / "t.bin", 8, np.uint8)
    ids = np.array([[3, 3, 39], [0, 7, 3]])
    assert np.array_equal(reader.gather(ids), table[ids])
    assert reader.gather(np.zeros((1, 0), np.int64)).shape == (1, 0, 8)
    try:
        reader.gather(np.array([[40]]))
    except IndexError:
        pass
    else:
        raise AssertionError("an id past the table must not read past it")


def test_a_graph_without_a_word_table_is_used_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(int8_table, "MIN_TABLE_BYTES", 1024)
    _tiny_model(tmp_path, with_table=False)
    assert split_model(tmp_path) == tmp_path / "model_int8.onnx"
    assert split_model(tmp_path) == tmp_path / "model_int8.onnx"  # remembered, not re-read
    ids = np.ones((1, 4), np.int64)
    assert _run(tmp_path / "model_int8.onnx", ids).shape[0] == 1


@pytest.mark.slow
def test_real_int8_embedder_reads_its_word_table_from_disk_and_shares_one_tokenizer(embedder):
    """The e5 export: split once, same vectors as the whole graph, one tokenizer for both sessions."""
    if not hasattr(embedder, "folder"):
        pytest.skip("LAWFAQ_ENCODER=fp32")
    texts = ["网贷逾期会有人上门吗", "ＡＰＰ里借的钱逾期了 😀", ""]
    query, passage = embedder._session("query"), embedder._session("passage")
    assert query.table is not None and passage.tokenizer is query.tokenizer
    whole = ort.InferenceSession(str(embedder.folder / "model_int8.onnx"), providers=["CPUExecutionProvider"])
    session, table = query.session, query.table
    try:
        query.session, query.table = whole, None
        want = query.encode(texts)
    finally:
        query.session, query.table = session, table
    assert np.array_equal(query.encode(texts), want)
