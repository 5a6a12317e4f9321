"""index.storage.store without a model: articles, passages, statutes, carrying rows forward, the cache."""
from __future__ import annotations

import numpy as np

from index.storage.embedding_cache import EmbeddingCache
from index.storage.store import BATCH, MetaStore
from ingest.records import Article, Passage


def _fill(store: MetaStore, ids: list[str]) -> None:
    pos = 0
    for aid in ids:
        store.add_article(Article(id=aid, title=f"标题{aid}", body=f"正文{aid}", category="劳动纠纷"), f"h{aid}")
        for n in range(2):
            p = Passage(id=f"{aid}#{n}", article_id=aid, text=f"{aid}段{n}", start=n, end=n + 1,
                        statutes=[f"中华人民共和国劳动合同法 第{40 + n}条"],
                        statute_labels=[f"劳动合同法第{40 + n}条第1款"])
            store.add_passage(pos, p, f"e{aid}{n}", ["工资", aid])
            pos += 1
    store.commit()


def test_reads_keep_labels_with_paragraphs_and_find_citing_passages(tmp_path):
    with MetaStore(tmp_path / "m.sqlite") as store:
        _fill(store, ["a", "b"])
        assert store.counts() == (2, 4)
        assert store.passages_of("b")[1].labels == ["劳动合同法第41条第1款"]
        assert store.positions_citing(["中华人民共和国劳动合同法 第41条"]) == {1, 3}
        assert store.labels_of(["a"]) == {"a": ["劳动合同法第40条第1款", "劳动合同法第41条第1款"]}
        assert store.category_counts() == {"劳动纠纷": 2}


def test_reads_batch_past_sqlite_parameter_limits(tmp_path):
    with MetaStore(tmp_path / "m.sqlite") as store:
        _fill(store, [str(i) for i in range(BATCH + 20)])
        assert len(store.articles(str(i) for i in range(BATCH + 20))) == BATCH + 20
        assert len(store.passages(range(2 * BATCH + 40))) == 2 * BATCH + 40


def test_copy_unchanged_renumbers_positions_and_returns_vector_inputs(tmp_path):
    with MetaStore(tmp_path / "old.sqlite") as old:
        _fill(old, ["a", "b", "c"])
    with MetaStore(tmp_path / "new.sqlite") as new:
        hashes, tokens = new.copy_unchanged_from(tmp_path / "old.sqlite", {"a", "c"})
        assert hashes == ["ea0", "ea1", "ec0", "ec1"] and tokens[2] == ["工资", "c"]
        assert [p.id for p in new.passages(range(4)).values()] == ["a#0", "a#1", "c#0", "c#1"]
        assert new.positions_citing(["中华人民共和国劳动合同法 第40条"]) == {0, 2}
        assert new.article("b") is None and new.article("c").title == "标题c"


def test_embedding_cache_round_trip_and_missing(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    vecs = np.eye(3, dtype=np.float32)
    cache.put("m", ["x", "y", "z"], vecs)
    assert cache.missing("m", ["x", "w", "x"]) == ["w"]
    assert cache.missing("other-model", ["x"]) == ["x"]
    got = cache.get("m", ["z", "x", "z"], 3)
    assert np.array_equal(got, vecs[[2, 0, 2]])
    cache.close()


# ---- damaged files (issue 30) ------------------------------------------------
def _garble(path, offset: int = 0, n: int = 100) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * (n // 4))


def test_sqlite_file_problem_finds_a_garbled_header_and_a_truncated_file(tmp_path):
    from index.storage.sqlite_health import sqlite_file_problem
    from index.storage.store import meta_problem

    with MetaStore(tmp_path / "m.sqlite") as store:
        _fill(store, [f"a{i}" for i in range(200)])
    whole = tmp_path / "m.sqlite"
    assert sqlite_file_problem(whole) is None and meta_problem(whole, {"articles": 200, "passages": 400}) is None
    assert "400" in meta_problem(whole, {"articles": 200, "passages": 401})  # disagrees with its manifest
    assert sqlite_file_problem(tmp_path / "none.sqlite") == "missing"
    assert sqlite_file_problem(tmp_path / "none.sqlite", missing_ok=True) is None

    garbled = tmp_path / "g.sqlite"
    garbled.write_bytes(whole.read_bytes())
    _garble(garbled)
    assert "header" in sqlite_file_problem(garbled) and str(garbled) in meta_problem(garbled)

    cut = tmp_path / "t.sqlite"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "truncated" in sqlite_file_problem(cut) and "truncated" in meta_problem(cut)


def test_a_damaged_embedding_cache_is_moved_aside_and_started_anew(tmp_path):
    from index.storage.embedding_cache import CacheDamaged

    path = tmp_path / "embeddings.sqlite"
    cache, note = EmbeddingCache.open_or_replace(path)  # a new cache is not damaged
    assert note is None
    cache.put("m", ["x", "y"], np.eye(2, dtype=np.float32))
    cache.close()
    cache, note = EmbeddingCache.open_or_replace(path)
    assert note is None and cache.missing("m", ["x", "z"]) == ["z"]
    cache.close()

    _garble(path)
    try:
        EmbeddingCache(path)
        raise AssertionError("a garbled cache opened")
    except CacheDamaged as exc:
        assert str(path) in str(exc)  # the error names the file
    cache, note = EmbeddingCache.open_or_replace(path)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("embeddings.sqlite.damaged-")]
    assert len(aside) == 1 and str(path) in note and aside[0].name in note
    assert cache.missing("m", ["x"]) == ["x"]  # empty: everything is embedded again
    cache.put("m", ["x"], np.eye(1, 2, dtype=np.float32))
    cache.close()


def test_a_cache_damaged_in_its_pages_is_found_on_opening(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    cache = EmbeddingCache(path)
    rng = np.random.default_rng(0)
    cache.put("m", [f"h{i}" for i in range(400)], rng.normal(size=(400, 64)).astype(np.float32))
    cache.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cache.close()
    size = path.stat().st_size
    _garble(path, offset=size // 2, n=8192)  # the header is fine, pages in the middle are not
    cache, note = EmbeddingCache.open_or_replace(path)
    assert note and "damaged" in note
    assert cache.missing("m", ["h1"]) == ["h1"]
    cache.close()
