"""The faster shaping path gives exactly what the straightforward code gave (no model needed).

Each reference below is the implementation the fast one replaced (issue 14,
shaping <= 1 ms): per-character normalisation for highlights, a generator for
shingles, every span summed for every sentence, and all 60 window rows read
before shaping. They are compared on texts chosen to hit the corner cases.
"""
from __future__ import annotations

import random
import unicodedata

import numpy as np

from index.search.fusion import jaccard, shape, shingles
from index.search.hits import best_sentence
from index.storage.store import MetaStore, PassageWindow
from index.text.tokenize import LegalTokenizer
from ingest.records import Article, Passage

TEXTS = [
    "",
    "网贷逾期了，催收说要上门，是真的吗？",
    "網貸逾期三個月了會被起訴嗎？（臺灣）",
    "㈱会社 ＡＢＣ １２３ ﬁle Σίσυφος ΣΑΣ İstanbul ß",
    "e\u0301 combining é and ｶﾞ half-width katakana ﾊﾟ",
    "emoji 😀👍🏽 and tabs\tand\u3000ideographic space\u00a0nbsp\n\n新行",
    "根据《中华人民共和国民法典》第一千零三十二条，自然人享有隐私权。任何组织或者个人不得侵害。",
    "乾隆皇帝的頭髮與后天的後面",  # opencc phrase conversions
    "ⅫⅣ ① ⑳ ㍻ ㌔ ℃ № ™",
]


def _reference_normalize_mapped(tk: LegalTokenizer, text: str) -> tuple[str, list[int]]:
    pieces = [unicodedata.normalize("NFKC", ch).lower() for ch in text]
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    joined = "".join(pieces)
    conv = tk._ensure_converter()
    converted = conv.convert(joined)
    if len(converted) != len(joined):
        pieces = [conv.convert(p) for p in pieces]
        origin = [i for i, piece in enumerate(pieces) for _ in piece]
        converted = "".join(pieces)
    return converted, origin


def _random_texts(n: int) -> list[str]:
    rng = random.Random(14)
    alphabet = "".join(TEXTS) + "，。！？；：、 \t\n"
    return [''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(n)]


def test_normalize_mapped_equals_per_character_reference():
    tk = LegalTokenizer()
    for text in TEXTS + _random_texts(300):
        norm, origin = tk._normalize_mapped(text)
        ref_norm, ref_origin = _reference_normalize_mapped(tk, text)
        assert norm == ref_norm and list(origin) == ref_origin, text


def _reference_shingles(text: str, n: int = 3) -> frozenset[str]:
    compact = "".join(ch for ch in text if not ch.isspace())
    if len(compact) <= n:
        return frozenset([compact]) if compact else frozenset()
    return frozenset(compact[i : i + n] for i in range(len(compact) - n + 1))


def test_shingles_and_jaccard_equal_reference():
    texts = TEXTS + _random_texts(200)
    for a, b in zip(texts, reversed(texts), strict=True):
        sa, sb = shingles(a), shingles(b)
        assert sa == _reference_shingles(a) and sb == _reference_shingles(b)
        ref = len(sa & sb) / len(sa | sb) if sa and sb else 0.0
        assert jaccard(sa, sb) == ref


def _reference_best_sentence(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    from index.search.hits import _SENT

    best, best_score = (0, 0), -1.0
    for m in _SENT.finditer(text):
        s, e = m.start(), m.end()
        if not text[s:e].strip():
            continue
        covered = sum(max(0, min(e, b) - max(s, a)) for a, b in spans)
        score = covered + 0.001 * min(e - s, 60)
        if score > best_score:
            best, best_score = (s, e), score
    return best


def test_best_sentence_equals_reference_for_highlight_and_arbitrary_spans():
    tk = LegalTokenizer()
    rng = random.Random(7)
    for text in TEXTS + _random_texts(200):
        spans = tk.match_spans("网贷 逾期 起诉 民法典 隐私 abc 会", text)
        assert best_sentence(text, spans) == _reference_best_sentence(text, spans)
        # spans from elsewhere: unsorted, overlapping, empty, inverted
        odd = [(rng.randint(0, 90), rng.randint(0, 90)) for _ in range(rng.randint(0, 6))]
        assert best_sentence(text, odd) == _reference_best_sentence(text, odd)


def test_passage_window_shapes_exactly_like_reading_the_whole_window(tmp_path):
    rng = random.Random(3)
    with MetaStore(tmp_path / "m.sqlite") as store:
        pos, article_of = 0, []
        for a in range(40):
            store.add_article(Article(id=f"a{a}", title=f"标题{a}", body="正文"), f"h{a}")
            for n in range(rng.randint(1, 4)):
                text = rng.choice(["网贷逾期会被起诉吗", "离婚冷静期多久", "被公司辞退的补偿"]) + "。" * n + str(a % 3)
                store.add_passage(pos, Passage(id=f"a{a}#{n}", article_id=f"a{a}", text=text, start=n, end=n + 1),
                                  f"e{pos}", [])
                article_of.append(a)
                pos += 1
        store.commit()
        article_idx = np.array(article_of)
        for trial in range(50):
            ranked = rng.sample(range(pos + 5), pos + 5)  # a few positions the store does not hold
            k = rng.choice([1, 5, 10, 50])
            window = ranked[: max(60, k * 12)]
            rows = store.passages(window)
            want = shape([p for p in ranked if p in rows], article_idx, lambda p, rows=rows: rows[p].text, k)
            lazy = PassageWindow(store, window, chunk=k + 4)
            got = shape(lazy.present(), article_idx, lambda p, lazy=lazy: lazy.rows[p].text, k)
            assert got == want, trial
            assert all(lazy.rows[p] == rows[p] for p in got)


def test_article_heads_equal_articles_and_labels_of(tmp_path):
    with MetaStore(tmp_path / "m.sqlite") as store:
        for a, labels in enumerate([[], ["民法典第1条"], ["民法典第2条", "民法典第1条"]]):
            store.add_article(Article(id=f"a{a}", title=f"标题{a}", body="很长的正文" * 50, url=None,
                                      category="劳动纠纷", tags=["t"]), f"h{a}")
            for n in range(3):
                store.add_passage(a * 3 + n, Passage(id=f"a{a}#{n}", article_id=f"a{a}", text="段", start=2 - n,
                                                     end=3 - n, statute_labels=labels[n:]), f"e{a}{n}", [])
        store.commit()
        ids = ["a2", "a0", "a1", "a2", "missing"]
        heads = store.article_heads(ids)
        arts, labels = store.articles(ids), store.labels_of(ids)
        assert set(heads) == set(arts) == {"a0", "a1", "a2"}
        for aid, (head, cited) in heads.items():
            assert head.body == "" and head.title == arts[aid].title and head.tags == arts[aid].tags
            assert (head.url, head.category, head.published) == (arts[aid].url, arts[aid].category, arts[aid].published)
            assert cited == labels.get(aid, [])


def test_quote_all_equals_urllib_quote_with_nothing_safe():
    from urllib.parse import quote

    from index.search.hits import quote_all

    for text in TEXTS + _random_texts(300) + ["促进个体工商户发展条例第十一条#0", "a/b?c=d&e%f~g.h_i-j k"]:
        assert quote_all(text) == quote(text, safe="")
