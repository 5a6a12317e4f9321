"""The Milvus backend for real: a milvus-lite data dir per test, and a `milvus-lite server` on 127.0.0.1.

Same corpus, same model, same fusion: the Milvus backend must rank exactly as
the FAISS one; the nightly job must write only what changed, publish
atomically, roll back, and keep its guards, lock and exit codes.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the optional Milvus extra is not installed (requirements-milvus.txt)")
pytest.importorskip("milvus_lite", reason="the optional Milvus extra is not installed (requirements-milvus.txt)")

from index.backends.milvus_conn import connect, disconnect, resolve_uri  # noqa: E402
from index.build import pipeline as build_module  # noqa: E402
from index.build.pipeline import BuildOptions, build_index  # noqa: E402
from index.search.request import InvalidQuery  # noqa: E402
from index.search.searcher import Searcher  # noqa: E402
from index.storage.layout import IndexDir, read_manifest  # noqa: E402
from tests.servers import ROOT, free_port, running  # noqa: E402

pytestmark = pytest.mark.slow
QUERIES = ["网贷逾期会有人上门吗", "被公司辞退能拿多少补偿", "离婚冷静期多久", "交通事故对方全责怎么赔", "物业费可以不交吗"]


def milvus_build(corpus: Path, index: Path, embedder, tokenizer, uri: str = "", **options):
    return build_index([str(corpus)], index, BuildOptions(progress=False, backend="milvus", milvus_uri=uri,
                                                          **options), embedder, tokenizer)


@pytest.fixture
def index_dir(tmp_path: Path, built_index: Path):
    """A fresh index dir (its own milvus-lite data dir) sharing the FAISS fixture index's embedding cache."""
    root = tmp_path / "idx"
    root.mkdir()
    shutil.copy(built_index / "embeddings.sqlite", root / "embeddings.sqlite")
    yield root
    disconnect(resolve_uri("", root))


def collection_of(index: Path) -> str:
    return read_manifest(IndexDir(index).current())["backend"]["collection"]


def test_same_hits_as_faiss_in_every_mode_and_no_embedding(index_dir, copy_corpus, built_index, embedder, tokenizer):
    report = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    assert report.status == "published" and report.exit_code == 0, report.message
    assert report.passages_embedded == 0  # every vector came from the embedding cache
    faiss_s = Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)
    milvus_s = Searcher.open(index_dir, embedder=embedder, tokenizer=tokenizer)
    assert milvus_s.status()["dense"] == "milvus-hnsw" and milvus_s.status()["passages"] == report.passages_total
    for q in QUERIES:
        for mode in ("hybrid", "bm25", "dense"):
            a, b = faiss_s.search(q, k=8, mode=mode), milvus_s.search(q, k=8, mode=mode)
            assert [h.passage_id for h in a] == [h.passage_id for h in b], (q, mode)
            assert [h.matched_terms for h in a] == [h.matched_terms for h in b]
            assert (a.weak, a.message) == (b.weak, b.message)
            for x, y in zip(a, b, strict=True):
                assert (x.bm25_score is None) == (y.bm25_score is None)
                assert (x.dense_score is None) == (y.dense_score is None)
                if x.bm25_score is not None:
                    assert y.bm25_score == pytest.approx(x.bm25_score, rel=1e-4)
                if x.dense_score is not None:
                    assert y.dense_score == pytest.approx(x.dense_score, abs=1e-4)
        assert faiss_s.rank_articles(q) == milvus_s.rank_articles(q)


def test_category_and_date_filters_inside_milvus(index_dir, copy_corpus, built_index, embedder, tokenizer):
    assert milvus_build(copy_corpus, index_dir, embedder, tokenizer).status == "published"
    faiss_s = Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)
    milvus_s = Searcher.open(index_dir, embedder=embedder, tokenizer=tokenizer)
    cases = [{"category": "婚姻家事"}, {"category": ["劳动纠纷", "婚姻家事"]}, {"date_from": "2025-01-01"},
             {"date_to": "2024-12-31"}, {"category": "婚姻家事", "date_from": "2025-02-01", "date_to": "2025-03-01"}]
    for filters in cases:
        for mode in ("hybrid", "bm25", "dense"):
            a = faiss_s.search("离婚 补偿 上门", k=10, mode=mode, **filters)
            b = milvus_s.search("离婚 补偿 上门", k=10, mode=mode, **filters)
            assert [h.passage_id for h in a] == [h.passage_id for h in b], (filters, mode)
    only = milvus_s.search("离婚", k=10, category="婚姻家事", date_from="2025-01-01")
    assert only and all(h.category == "婚姻家事" and h.published >= "2025-01-01" for h in only)
    with pytest.raises(InvalidQuery, match="category"):  # an unknown category is named, as on FAISS
        milvus_s.search("离婚", k=10, category="没有这个分类")


def edit_corpus(corpus: Path) -> None:
    """One article changed, one removed (1 of 6: under the shrink guard), one added."""
    p = corpus / "lihun-lengjingqi.md"
    p.write_text(p.read_text(encoding="utf-8").replace("冷静一点没坏处", "冷静期里可以撤回申请，蓝鲸条款"), encoding="utf-8")
    (corpus / "jiaotong-shigu.md").unlink()
    (corpus / "zhaiquan-zhuanrang.md").write_text(
        "---\ntitle: 债权转让要通知债务人吗？\ncategory: 金融债务\ndate: 2025-03-01\n---\n\n"
        "债权人转让债权，未通知债务人的，该转让对债务人不发生效力。火烈鸟测试词。\n", encoding="utf-8")


def test_incremental_update_delete_publish_and_rollback(index_dir, copy_corpus, embedder, tokenizer):
    layout = IndexDir(index_dir)
    first = milvus_build(copy_corpus, index_dir, embedder, tokenizer, keep=2)
    again = milvus_build(copy_corpus, index_dir, embedder, tokenizer, keep=2)
    assert again.status == "unchanged" and again.version == first.version
    s = Searcher.open(index_dir, embedder=embedder, tokenizer=tokenizer)
    gone = len(s.article("xss-test")[1]) + len(s.article("jiaotong-shigu")[1])
    (copy_corpus / "xss-test.md").unlink()
    second = milvus_build(copy_corpus, index_dir, embedder, tokenizer, keep=2)  # 2 kept: a new collection
    assert second.status == "published"
    edit_corpus(copy_corpus)
    old_first_hit = s.search("交通事故对方全责怎么赔", k=1)[0].article_id
    third = milvus_build(copy_corpus, index_dir, embedder, tokenizer, keep=2)
    assert third.status == "published", third.message
    assert (third.articles_added, third.articles_changed, third.articles_removed) == (1, 1, 1)
    info = read_manifest(layout.current())["backend"]
    # the first version's collection was recycled: only the delta since it was written
    # (passage-level: an edited article's untouched passages are not rewritten)
    assert 0 < info["upserted"] < third.passages_total - third.passages_reused
    assert info["deleted"] == gone
    client = connect(resolve_uri("", index_dir))
    names = {read_manifest(layout.versions / v)["backend"]["collection"] for v in layout.list_versions()}
    assert layout.list_versions() == [second.version, third.version]
    assert {c for c in client.list_collections()} == names  # nothing pruned is left behind
    assert client.describe_alias(info["collection"].rsplit("_", 1)[0])["collection_name"] == info["collection"]

    # the searcher follows CURRENT to the new version on its own
    assert s.search("火烈鸟测试词", k=1)[0].article_id == "zhaiquan-zhuanrang"
    assert s.search("蓝鲸条款", k=1)[0].article_id == "lihun-lengjingqi"
    assert all(h.article_id != "jiaotong-shigu" for h in s.search("交通事故对方全责怎么赔", k=10))
    assert s.status()["passages"] == third.passages_total

    # rollback serves the previous version's untouched collection
    assert layout.rollback() == (third.version, second.version)
    assert s.search("交通事故对方全责怎么赔", k=1)[0].article_id == old_first_hit == "jiaotong-shigu"
    assert all(h.article_id != "zhaiquan-zhuanrang" for h in s.search("火烈鸟测试词", k=10))


def test_failed_build_keeps_serving_and_the_next_run_cleans_up(index_dir, copy_corpus, embedder, tokenizer):
    first = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    edit_corpus(copy_corpus)

    def fail(stage: str) -> None:
        if stage == "validate":
            raise OSError(28, "No space left on device", "<validate>")

    build_module.STAGE_LISTENERS.append(fail)
    try:
        failed = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    finally:
        build_module.STAGE_LISTENERS.remove(fail)
    assert failed.status == "failed" and failed.exit_code == 1
    layout = IndexDir(index_dir)
    assert layout.current_name() == first.version
    client = connect(resolve_uri("", index_dir))
    assert len(client.list_collections()) == 2  # the half-published one is still there...
    s = Searcher.open(index_dir, embedder=embedder, tokenizer=tokenizer)
    assert s.search("交通事故对方全责怎么赔", k=1)[0].article_id == "jiaotong-shigu"
    retry = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    assert retry.status == "published"
    assert sorted(client.list_collections()) == sorted(
        read_manifest(layout.versions / v)["backend"]["collection"] for v in layout.list_versions())


def test_shrink_guard_and_lock_keep_their_exit_codes(index_dir, copy_corpus, embedder, tokenizer):
    first = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    for name in ("jiaotong-shigu.md", "xss-test.md"):
        (copy_corpus / name).unlink()
    refused = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    assert refused.status == "refused" and refused.exit_code == 2
    with IndexDir(index_dir).lock():
        locked = milvus_build(copy_corpus, index_dir, embedder, tokenizer)
    assert locked.exit_code == 3
    assert IndexDir(index_dir).current_name() == first.version
    assert milvus_build(copy_corpus, index_dir, embedder, tokenizer, allow_shrink=True).exit_code == 0


SEARCH_CLIENT = """
import json, sys
from index.search.searcher import Searcher
s = Searcher.open(sys.argv[1])
out = {q: [h.passage_id for h in s.search(q, k=5, category=sys.argv[2] or None)] for q in json.loads(sys.argv[3])}
print(json.dumps(out, ensure_ascii=False))
"""


def _listens(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_milvus_lite_server_serves_two_client_processes_at_once(tmp_path, index_dir, copy_corpus, embedder,
                                                                tokenizer):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(tmp_path / "server.db"),
              "--host", "127.0.0.1", "--port", str(port)]
    with running(server, {"PATH": str(Path(sys.executable).parent)}, tmp_path / "server.log", uri, 60, _listens):
        try:
            report = milvus_build(copy_corpus, index_dir, embedder, tokenizer, uri=uri)
            assert report.status == "published", report.message
            assert read_manifest(IndexDir(index_dir).current())["backend"]["uri"] == uri
            mine = Searcher.open(index_dir, embedder=embedder, tokenizer=tokenizer)
            want = {q: [h.passage_id for h in mine.search(q, k=5, category="婚姻家事" if i % 2 else None)]
                    for i, q in enumerate(QUERIES)}
            procs = [subprocess.Popen([sys.executable, "-c", SEARCH_CLIENT, str(index_dir), cat,
                                       json.dumps(QUERIES[i::2], ensure_ascii=False)],
                                      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for i, cat in ((0, ""), (1, "婚姻家事"))]
            outs = [p.communicate(timeout=300) for p in procs]
        finally:
            disconnect(uri)
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    got = {**json.loads(outs[0][0]), **json.loads(outs[1][0])}
    assert got == want and all(got.values())
