"""Real-data tests for the BM25 lexical layer (index/text/tokenize.py and its data files)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from index.text.tokenize import (
    DEFAULT_DICT_PATH,
    DEFAULT_STOPWORDS_PATH,
    DEFAULT_SYNONYMS_PATH,
    LegalTokenizer,
    default_tokenizer,
)


@pytest.fixture(scope="module")
def tk() -> LegalTokenizer:
    return default_tokenizer()


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


# ------------------------------------------------------------------ data files
def test_dict_has_400_unique_wellformed_entries():
    lines = _lines(DEFAULT_DICT_PATH)
    words = []
    for ln in lines:
        parts = ln.split(" ")
        assert len(parts) == 3, ln
        word, freq, tag = parts
        assert freq.isdigit() and int(freq) > 0, ln
        assert tag.isalpha() and tag.islower(), ln
        words.append(word)
    assert len(words) == len(set(words)), "duplicate dictionary entries"
    assert len(set(words)) >= 400
    for must in ["失信被执行人", "催收非法债务罪", "停息挂账", "离婚冷静期", "取保候审", "交强险", "民法典", "退一赔三"]:
        assert must in words


def test_stopwords_are_function_words_only():
    stops = _lines(DEFAULT_STOPWORDS_PATH)
    assert len(stops) == len(set(stops))
    assert 150 <= len(stops) <= 300
    for must in ["的", "了", "吗", "怎么办", "请问", "律师", "是不是", "可以吗"]:
        assert must in stops
    for meaningful in ["不", "没有", "没", "拒绝", "未", "无", "逾期", "起诉"]:
        assert meaningful not in stops


def test_synonym_table_rows():
    rows = [ln.split("\t") for ln in _lines(DEFAULT_SYNONYMS_PATH)]
    assert len(rows) >= 80
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate colloquial keys"
    for row in rows:
        assert len(row) == 2, row
        key, targets = row
        assert key.strip()
        terms = targets.split(",")
        assert terms and all(t.strip() for t in terms), row


# ---------------------------------------------------------------- tokenization
@pytest.mark.parametrize("term", ["失信被执行人", "催收非法债务罪", "帮助信息网络犯罪活动罪", "个性化分期", "离婚冷静期"])
def test_user_dict_terms_stay_whole(tk, term):
    toks = tk.tokens(f"请问被列为{term}以后怎么办")
    assert term in toks


def test_stopwords_and_punctuation_removed(tk):
    toks = tk.tokens("请问律师，我网贷逾期了怎么办？是不是会被起诉啊！！")
    for stop in ["请问", "律师", "我", "了", "怎么办", "是不是", "啊", "，", "？", "！"]:
        assert stop not in toks
    assert {"网贷", "逾期", "起诉"} <= set(toks)


def test_negation_is_kept(tk):
    assert "不" in tk.tokens("公司不签劳动合同")
    assert "没有" in tk.tokens("没有借条能起诉吗")


def test_simplify_changes_only_traditional_characters(tk):
    """What the embedding model reads: the script made Simplified, case and width left alone."""
    assert tk.simplify("網貸逾期會有人上門嗎") == "网贷逾期会有人上门吗"
    assert tk.simplify("擔保人被起訴了怎麼辦 Lawyer") == "担保人被起诉了怎么办 Lawyer"
    for simplified in ("被老板开除了能拿多少补偿", "民法典第1032条 隐私权", "wangdai yuqi 一年", ""):
        assert tk.simplify(simplified) == simplified


def test_traditional_equals_simplified(tk):
    assert tk.tokens("網貸逾期會有人上門嗎") == tk.tokens("网贷逾期会有人上门吗")
    assert tk.tokens("網貸逾期會有人上門嗎") == ["网贷", "逾期", "有人", "上门"]
    assert tk.normalize("離婚冷靜期") == "离婚冷静期"


def test_fullwidth_ascii_normalised(tk):
    assert tk.normalize("ＡＰＰ") == "app"
    assert "app" in tk.tokens("ＡＰＰ借款逾期")
    assert "12315" in tk.tokens("拨打１２３１５投诉")


def test_english_words_kept_lowercase(tk):
    toks = tk.tokens("网贷overdue会怎样")
    assert "overdue" in toks and "网贷" in toks
    assert "lpr" in tk.tokens("利率超过LPR四倍")


def test_whitespace_and_newlines_dropped(tk):
    toks = tk.tokens("网贷\n\t逾期  \u3000 催收")
    assert toks == ["网贷", "逾期", "催收"]


@pytest.mark.parametrize("text", ["", " ", "\n\t\u3000", "😀🔥👍", "？！。，", "\x00\x01", "𠀀𪚥", "a" * 50])
def test_degenerate_input_never_raises(tk, text):
    assert isinstance(tk.tokens(text), list)
    assert isinstance(tk.query_tokens(text), list)
    assert isinstance(tk.match_spans(text, text), list)
    assert all(t.strip() for t in tk.tokens(text))


def test_emoji_removed_words_kept(tk):
    assert tk.tokens("网贷😭逾期🙏") == ["网贷", "逾期"]
    assert tk.tokens("") == [] and tk.tokens("   ") == []


def test_long_input(tk):
    text = ("我在网贷平台借了钱，逾期三个月，催收天天爆通讯录，还说要上门催收。😡" * 400)[:10_000]
    assert len(text) == 10_000
    toks = tk.tokens(text)
    assert toks.count("爆通讯录") >= 290
    assert tk.query_tokens(text)[: len(toks)] == toks
    spans = tk.match_spans("爆通讯录", text)
    assert len(spans) >= 290


# ------------------------------------------------------------------- synonyms
def test_synonym_expansion(tk):
    q = tk.query_tokens("老赖会影响孩子上学吗")
    assert "老赖" in q
    assert "失信被执行人" in q
    assert "失信被执行人" not in tk.tokens("老赖会影响孩子上学吗")


def test_synonym_matches_substring_not_token(tk):
    # jieba cuts 撞了就跑 into pieces; the key must still match as a substring.
    assert "肇事逃逸" in tk.query_tokens("撞了就跑怎么处理")
    assert "上门催收" in tk.query_tokens("他们说要上门要债")
    # Traditional input matches Simplified keys.
    assert "失信被执行人" in tk.query_tokens("老賴")
    # Case-insensitive ASCII keys.
    assert "经济补偿" in tk.query_tokens("被辞退能拿N+1吗")


def test_query_tokens_start_with_document_tokens(tk):
    q = "信用卡还不上了银行说要起诉我"
    toks = tk.tokens(q)
    qt = tk.query_tokens(q)
    assert qt[: len(toks)] == toks
    assert {"信用卡逾期", "协商还款"} <= set(qt)
    assert len(qt[len(toks):]) == len(set(qt[len(toks):]))


def test_every_synonym_target_tokenizes(tk):
    for key, targets in tk.synonyms.items():
        assert key == tk.normalize(key)
        assert targets, key
        for t in targets:
            assert tk.tokens(t), (key, t)


# ---------------------------------------------------------------- match_spans
def test_match_spans_on_traditional_text(tk):
    text = "網貸逾期後，催收人員會上門嗎？"
    spans = tk.match_spans("网贷逾期会有人上门吗", text)
    assert [text[a:b] for a, b in spans] == ["網貸", "逾期", "上門"]
    assert spans == sorted(spans)


def test_match_spans_longest_first_and_synonyms(tk):
    text = "他被列為失信被執行人，俗稱老賴。"
    spans = tk.match_spans("老赖", text)
    assert [text[a:b] for a, b in spans] == ["失信被執行人", "老賴"]


def test_match_spans_non_overlapping_sorted(tk):
    text = "催收非法債務罪與非法拘禁罪；催收非法债务罪"
    spans = tk.match_spans("催收非法债务罪 非法拘禁罪 非法 债务", text)
    assert spans == sorted(spans)
    for (_a1, b1), (a2, _b2) in zip(spans, spans[1:], strict=False):
        assert b1 <= a2
    surfaces = [text[a:b] for a, b in spans]
    assert surfaces == ["催收非法債務罪", "非法拘禁罪", "催收非法债务罪"]


def test_match_spans_length_changing_normalisation(tk):
    # NFKC expands ㈱ to "(株)" and ＡＰＰ narrows; spans must stay in original coordinates.
    text = "㈱公司的ＡＰＰ催收，ﬁ网贷"
    spans = tk.match_spans("app催收 网贷", text)
    surfaces = [text[a:b] for a, b in spans]
    assert "ＡＰＰ" in surfaces and "催收" in surfaces and "网贷" in surfaces
    assert all(0 <= a < b <= len(text) for a, b in spans)


def test_match_spans_no_match(tk):
    assert tk.match_spans("交强险", "劳动仲裁的时效是一年") == []
    assert tk.match_spans("", "网贷") == []
    assert tk.match_spans("网贷", "") == []


def test_match_spans_min_len(tk):
    text = "公司不签合同，不要紧"
    # 不 alone is a query token; with min_len=2 only 签合同 is highlighted.
    assert (2, 3) in tk.match_spans("不签合同", text)
    assert tk.match_spans("不签合同", text, min_len=2) == [(3, 6)]


# ----------------------------------------------------------------- lifecycle
def test_default_tokenizer_is_singleton():
    assert default_tokenizer() is default_tokenizer()


def test_custom_files_and_thread_safe_lazy_init(tmp_path):
    d = tmp_path / "dict.txt"
    d.write_text("冷静期离婚术 3000 n\n", encoding="utf-8")
    s = tmp_path / "stop.txt"
    s.write_text("的\n", encoding="utf-8")
    y = tmp_path / "syn.tsv"
    y.write_text("分手\t離婚冷靜期\n", encoding="utf-8")
    t = LegalTokenizer(d, s, y)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(t.query_tokens("冷静期离婚术的分手"))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 4 and all(r == results[0] for r in results)
    assert "冷静期离婚术" in results[0]
    assert "的" not in results[0]
    # Targets are normalised (Traditional in the file -> Simplified tokens).
    assert "离婚" in results[0]
