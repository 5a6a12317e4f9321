"""The build lifecycle for real: incremental diff, guards, lock, crash and disk-full survival.

Crash tests run the real `python -m index build` CLI as a subprocess (through
tests/index/build/build_with_faults.py, which adds a stage listener that pauses or
fails the run at a named stage) and kill -9 it there, so what is tested is what
cron runs.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build.pipeline import BuildOptions, build_index
from index.storage.layout import IndexDir

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
FAULTS = Path(__file__).resolve().parent / "build_with_faults.py"


def run_build(corpus: Path, index: Path, *extra: str, env: dict | None = None, wait: bool = True):
    cmd = [sys.executable, str(FAULTS), "build", "--source", str(corpus), "--index", str(index),
           "--no-progress", "--json", *extra]
    full_env = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600)


def wait_for_stage(proc: subprocess.Popen, stage: str, timeout: float = 120) -> None:
    """Read the run's log until it reports pausing at `stage`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"build exited ({proc.returncode}) before reaching {stage}")
        if f"test hook: pausing at {stage}" in line:
            return
    raise AssertionError(f"build never reached stage {stage}")


def kill_build_at(corpus, index, stage: str) -> None:
    """Start a real build, let it reach `stage`, and kill -9 it there."""
    proc = run_build(corpus, index, env={"LAWFAQ_TEST_PAUSE_AT": stage}, wait=False)
    try:
        wait_for_stage(proc, stage)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def assert_clean(index: Path) -> None:
    layout = IndexDir(index)
    assert not layout.tmp.exists() or list(layout.tmp.iterdir()) == []
    for v in layout.versions.iterdir():
        assert (v / "manifest.json").exists(), f"stray half-built version {v.name}"
    assert not (index / "CURRENT.tmp").exists()


def search_titles(index: Path, query: str, embedder, tokenizer) -> list[str]:
    from index.search.searcher import Searcher

    return [h.title for h in Searcher.open(index, embedder=embedder, tokenizer=tokenizer).search(query, k=5)]


def test_incremental_add_change_delete(copy_corpus, tmp_path, embedder, tokenizer):
    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert first.status == "published" and first.articles_added == 6

    again = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert again.status == "unchanged" and again.version == first.version and again.passages_embedded == 0

    # change one article, add one, delete none
    p = copy_corpus / "jiaotong-shigu.md"
    p.write_text(p.read_text(encoding="utf-8").replace("记住下面几步", "记住下面四步"), encoding="utf-8")
    (copy_corpus / "new-article.md").write_text(
        "---\ntitle: 醉驾会坐牢吗？\ncategory: 交通事故\ndate: 2025-10-01\n---\n\n"
        "醉酒驾驶机动车构成危险驾驶罪，依照《刑法》第一百三十三条之一，处拘役并处罚金。\n", encoding="utf-8")
    r = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert (r.articles_added, r.articles_changed, r.articles_removed, r.articles_unchanged) == (1, 1, 0, 5)
    # only passages whose text changed are embedded: the changed article's first passage and the new one
    assert 1 <= r.passages_embedded <= 3
    assert "醉驾会坐牢吗？" in search_titles(index, "喝酒开车被抓会判刑吗", embedder, tokenizer)

    # delete one: it disappears from every store
    (copy_corpus / "lihun-lengjingqi.md").unlink()
    r = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert r.articles_removed == 1 and r.status == "published"
    from index.search.searcher import Searcher

    s = Searcher.open(index, embedder=embedder, tokenizer=tokenizer)
    assert s.article("lihun-lengjingqi") is None
    assert all(h.article_id != "lihun-lengjingqi" for h in s.search("离婚冷静期多少天", k=10))
    st = s.status()
    assert st["articles"] == 6 and len(st["versions"]) == 3  # pruned to keep=3


def test_shrink_guard_refuses_a_source_that_lost_30_percent(copy_corpus, tmp_path, embedder, tokenizer):
    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    for name in ["xss-test.md", "jiaotong-shigu.md"]:  # 2 of 6 = 33%
        (copy_corpus / name).unlink()
    r = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert r.status == "refused" and r.exit_code == 2 and "--allow-shrink" in r.message
    assert IndexDir(index).current_name() == first.version
    r = build_index([str(copy_corpus)], index, BuildOptions(progress=False, allow_shrink=True), embedder, tokenizer)
    assert r.status == "published" and r.articles_removed == 2


def test_empty_source_on_first_build_fails_cleanly(tmp_path, embedder, tokenizer):
    (tmp_path / "empty").mkdir()
    r = build_index([str(tmp_path / "empty")], tmp_path / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert r.status == "failed" and r.exit_code == 1 and "no articles" in r.message
    assert IndexDir(tmp_path / "idx").current_name() is None


@pytest.mark.parametrize("stage", ["chunk", "embed", "write_dense", "validate", "publish"])
def test_kill_9_at_any_stage_keeps_the_old_version_serving(stage, copy_corpus, tmp_path, built_index):
    index = tmp_path / "idx"
    first = run_build(copy_corpus, index)
    assert first.returncode == 0, first.stderr
    old = IndexDir(index).current_name()
    (copy_corpus / "cizhi-buchang.md").write_text(
        (copy_corpus / "cizhi-buchang.md").read_text(encoding="utf-8") + "\n补充一句新的内容。\n", encoding="utf-8")

    kill_build_at(copy_corpus, index, stage)
    assert IndexDir(index).current_name() == old  # still serving the previous version
    from index.storage.layout import read_manifest

    assert read_manifest(IndexDir(index).current())["counts"]["articles"] == 6

    nxt = run_build(copy_corpus, index)
    assert nxt.returncode == 0, nxt.stderr
    report = json.loads(nxt.stdout)
    assert report["status"] == "published" and report["articles_changed"] == 1
    assert_clean(index)


@pytest.mark.parametrize("fault", ["write_dense:ENOSPC", "write_lexical:EACCES", "manifest:ENOSPC"])
def test_disk_full_or_permission_error_fails_cleanly(fault, copy_corpus, tmp_path, built_index):
    index = tmp_path / "idx"
    assert run_build(copy_corpus, index).returncode == 0
    old = IndexDir(index).current_name()
    (copy_corpus / "xss-test.md").write_text(
        (copy_corpus / "xss-test.md").read_text(encoding="utf-8") + "\n新增一段。\n", encoding="utf-8")
    failed = run_build(copy_corpus, index, env={"LAWFAQ_TEST_FAIL_AT": fault})
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["status"] == "failed" and ("No space" in report["message"] or "Permission" in report["message"])
    assert IndexDir(index).current_name() == old
    assert_clean(index)
    assert run_build(copy_corpus, index).returncode == 0


def test_second_run_exits_3_while_the_first_holds_the_lock(copy_corpus, tmp_path, built_index):
    index = tmp_path / "idx"
    proc = run_build(copy_corpus, index, env={"LAWFAQ_TEST_PAUSE_AT": "load", "LAWFAQ_TEST_PAUSE_SECONDS": "20"},
                     wait=False)
    try:
        wait_for_stage(proc, "load")
        second = run_build(copy_corpus, index)
        assert second.returncode == 3
        assert "another build is running" in second.stderr
    finally:
        proc.kill()
        proc.wait()


def test_rollback_goes_back_one_version(copy_corpus, tmp_path, embedder, tokenizer):
    index = tmp_path / "idx"
    a = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    (copy_corpus / "xss-test.md").unlink()
    b = build_index([str(copy_corpus)], index, BuildOptions(progress=False, allow_shrink=True), embedder, tokenizer)
    assert IndexDir(index).current_name() == b.version
    out = subprocess.run([sys.executable, "-m", "index", "rollback", "--index", str(index)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert IndexDir(index).current_name() == a.version


SERVE_SCRIPT = r"""
import sys, time, json
from index.search.searcher import Searcher
s = Searcher.open(sys.argv[1])
s.search("warm up", k=1)  # load the model before the clock starts
first = s.version
versions, failures, n = set(), 0, 0
deadline = time.time() + float(sys.argv[2])
print("ready", flush=True)
after_switch = 0
while time.time() < deadline and after_switch < 3:
    try:
        hits = s.search("公司辞退我能拿多少补偿", k=3)
        assert hits, "no hits"
        versions.add(hits.version)
        n += 1
        after_switch += hits.version != first
    except Exception as exc:
        failures += 1
        print("FAIL", repr(exc), flush=True)
print(json.dumps({"queries": n, "failures": failures, "versions": sorted(versions)}), flush=True)
"""


def test_build_while_another_process_serves(copy_corpus, tmp_path, built_index):
    index = tmp_path / "idx"
    assert run_build(copy_corpus, index).returncode == 0
    old = IndexDir(index).current_name()
    server = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, str(index), "300"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        (copy_corpus / "cizhi-buchang.md").write_text(
            (copy_corpus / "cizhi-buchang.md").read_text(encoding="utf-8").replace("第一件事", "头一件事"),
            encoding="utf-8")
        assert run_build(copy_corpus, index).returncode == 0
        new = IndexDir(index).current_name()
        assert new != old
        out, err = server.communicate(timeout=400)
    finally:
        if server.poll() is None:
            server.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["failures"] == 0, out
    assert result["queries"] >= 4
    assert new in result["versions"], "the serving process picked up the new version"


def test_changed_tokenizer_data_retokenizes_without_reembedding(copy_corpus, tmp_path, embedder, tokenizer):
    """The dictionary is part of the index's identity: a new word reaches the BM25 side on the next run."""
    from index.storage.layout import read_manifest
    from index.storage.lexical import LexicalIndex
    from index.text.tokenize import DEFAULT_DICT_PATH, LegalTokenizer

    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert first.status == "published"
    word = "经济补偿金计算标准"
    dict_copy = tmp_path / "legal_dict.txt"
    dict_copy.write_text(DEFAULT_DICT_PATH.read_text(encoding="utf-8") + f"\n{word} 50000 n\n", encoding="utf-8")
    (copy_corpus / "cizhi-buchang.md").write_text(
        (copy_corpus / "cizhi-buchang.md").read_text(encoding="utf-8") + f"\n{word}见上文。\n", encoding="utf-8")
    same = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert same.articles_changed == 1  # only the edited article, with the old dictionary

    new_tokenizer = LegalTokenizer(dict_path=dict_copy)
    assert new_tokenizer.checksum != tokenizer.checksum
    second = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, new_tokenizer)
    assert second.status == "published" and second.passages_embedded == 0  # vectors from the cache
    assert second.articles_changed == second.articles_total  # every passage re-tokenized
    current = IndexDir(index).current()
    assert read_manifest(current)["tokenizer"]["checksum"] == new_tokenizer.checksum
    lexical = LexicalIndex.load(current / "bm25")
    assert lexical.top([word], 3)[1].size == 1  # the new word is a BM25 term now

    again = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, new_tokenizer)
    assert again.status == "unchanged"


# ---- damaged files, empty sources, unwritable folders, rollback after a killed publish (issue 30) ----
def _garble(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.write(b"\xde\xad\xbe\xef" * 25)  # the first 100 bytes: SQLite's header


def _damage(path: Path, how: str) -> None:
    if how == "garbled":
        _garble(path)
    else:
        os.truncate(path, path.stat().st_size // 3)


@pytest.mark.parametrize(("damaged", "how", "extra"), [
    ("meta", "garbled", ()), ("meta", "truncated", ()), ("meta", "garbled", ("--full",)),
    ("cache", "garbled", ()), ("cache", "truncated", ("--full",)),
])
def test_nightly_build_recovers_from_a_damaged_file_and_names_it(damaged, how, extra, copy_corpus, tmp_path,
                                                                 embedder, tokenizer):
    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert first.status == "published"
    layout = IndexDir(index)
    path = layout.current() / "meta.sqlite" if damaged == "meta" else layout.embedding_cache
    _damage(path, how)
    if damaged == "cache":  # the cache is opened when something is to be embedded
        (copy_corpus / "xss-test.md").write_text(
            (copy_corpus / "xss-test.md").read_text(encoding="utf-8") + "\n新增一段。\n", encoding="utf-8")

    out = run_build(copy_corpus, index, *extra)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "published" and report["version"] != first.version
    assert str(path) in report["message"], report["message"]  # the damaged file is named
    assert str(path) in out.stderr  # and logged by the nightly job
    if damaged == "meta":  # not reused: every article built again, from the cache
        assert report["articles_added"] == 6 and report["passages_reused"] == 0
        assert report["previous_version"] == first.version
    else:  # moved aside, rebuilt: everything embedded again
        aside = [p.name for p in index.iterdir() if p.name.startswith("embeddings.sqlite.damaged-")]
        assert len(aside) == 1 and aside[0] in report["message"]
        assert report["passages_embedded"] >= 1
        if "--full" in extra:
            assert report["passages_embedded"] == report["passages_total"]
    assert "协议离婚要等三十天冷静期吗？" in search_titles(index, "离婚冷静期多少天", embedder, tokenizer)
    again = run_build(copy_corpus, index)  # and the next night is an ordinary one
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "unchanged", again.stdout


def test_a_source_where_every_file_is_broken_fails_clearly_even_allowed_to_shrink(copy_corpus, tmp_path,
                                                                                   embedder, tokenizer):
    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    broken = tmp_path / "broken"
    broken.mkdir()
    for seed, name in enumerate(("a.md", "b.md", "c.md")):
        (broken / name).write_bytes(random.Random(seed).randbytes(3000))  # binary: not an article
    (broken / "d.md").write_text("", encoding="utf-8")
    r = build_index([str(broken)], index, BuildOptions(progress=False, allow_shrink=True), embedder, tokenizer)
    assert r.status == "failed" and r.exit_code == 1, r.message
    assert "no articles" in r.message and "not published" in r.message and first.version in r.message
    assert "AttributeError" not in r.message and len(r.skipped) >= 3
    assert IndexDir(index).current_name() == first.version
    assert search_titles(index, "离婚冷静期多少天", embedder, tokenizer)  # the old version keeps serving
    refused = build_index([str(broken)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert refused.status == "refused" and refused.exit_code == 2  # without --allow-shrink: the guard, as before


def test_a_read_only_index_folder_is_a_json_failure_not_a_traceback(copy_corpus, tmp_path, monkeypatch, capsys):
    import errno

    from index.cli import main
    from index.storage import layout as layout_module

    real_open = open

    def read_only(path, mode="r", *args, **kwargs):
        if str(path).endswith("build.lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(layout_module, "open", read_only, raising=False)
    code = main(["build", "--source", str(copy_corpus), "--index", str(tmp_path / "idx"), "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    report = json.loads(out)
    assert report["status"] == "failed" and report["exit_code"] == 1
    assert "build.lock" in report["message"] and "Permission denied" in report["message"]
    assert "Traceback" not in err
    code = main(["rollback", "--index", str(tmp_path / "idx"), "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["status"] == "failed" and "writable" in json.loads(out)["message"]


def test_a_report_that_cannot_be_written_leaves_no_tmp_and_no_stale_claim(copy_corpus, tmp_path, monkeypatch,
                                                                           embedder, tokenizer):
    import errno

    from index.build import pipeline
    from index.storage import layout as layout_module

    index = tmp_path / "idx"
    first = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    layout = IndexDir(index)
    assert json.loads(layout.report.read_text())["status"] == "published"

    def disk_full_at(stage: str) -> None:
        if stage == "write_dense":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "<write_dense>")

    real_open = open

    class FullFile:  # the file is created (0 bytes), then nothing fits
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_disk(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        return FullFile(fh) if str(path).endswith("report.json.tmp") else fh

    (copy_corpus / "xss-test.md").write_text(
        (copy_corpus / "xss-test.md").read_text(encoding="utf-8") + "\n新增一段。\n", encoding="utf-8")
    monkeypatch.setattr(pipeline, "STAGE_LISTENERS", [disk_full_at])
    monkeypatch.setattr(layout_module, "open", full_disk, raising=False)
    r = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert r.status == "failed" and "No space" in r.message
    assert not (index / "report.json.tmp").exists()
    assert not layout.report.exists()  # the last report said "published": it is not left to say so
    assert layout.current_name() == first.version
    assert_clean(index)


@pytest.mark.parametrize("stage", ["publish", "publish_renamed", "publish_recorded", "prune"])
def test_rollback_after_a_killed_publish_returns_to_the_version_that_served(stage, copy_corpus, tmp_path,
                                                                            embedder, tokenizer):
    index = tmp_path / "idx"
    layout = IndexDir(index)

    def edit(text: str) -> None:
        p = copy_corpus / "cizhi-buchang.md"
        p.write_text(p.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")

    build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    edit("补充第一句。")
    build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    edit("补充第二句。")
    kill_build_at(copy_corpus, index, stage)
    served = layout.current_name()  # what serves after the killed run (its own version only past the switch)
    edit("补充第三句。")
    last = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    assert last.status == "published" and last.previous_version == served

    out = subprocess.run([sys.executable, "-m", "index", "rollback", "--index", str(index), "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["to"] == served and layout.current_name() == served


def test_rollback_refuses_a_damaged_version_with_exit_1(copy_corpus, tmp_path, embedder, tokenizer):
    index = tmp_path / "idx"
    a = build_index([str(copy_corpus)], index, BuildOptions(progress=False), embedder, tokenizer)
    (copy_corpus / "xss-test.md").unlink()
    b = build_index([str(copy_corpus)], index, BuildOptions(progress=False, allow_shrink=True), embedder, tokenizer)
    _garble(IndexDir(index).versions / a.version / "meta.sqlite")
    out = subprocess.run([sys.executable, "-m", "index", "rollback", "--index", str(index)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert a.version in out.stderr and "meta.sqlite" in out.stderr and "damaged" in out.stderr, out.stderr
    assert IndexDir(index).current_name() == b.version
