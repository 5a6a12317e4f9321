"""index.storage.layout without a model: versions, the CURRENT pointer, lock, rollback, pruning."""
from __future__ import annotations

import json
import shutil

import pytest

from index.storage.layout import IndexDir, IndexLocked, IndexNotFound, NothingToRollBack


def _publish(layout: IndexDir, name: str) -> None:
    staged = layout.tmp / name
    staged.mkdir(parents=True)
    (staged / "manifest.json").write_text(json.dumps({"version": name}))
    layout.publish(staged, name)


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFound, match="python -m index build"):
        IndexDir(tmp_path / "nothing").current()


def test_publish_switches_current_and_rollback_goes_back_one(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2", "v3"):
        _publish(layout, name)
    assert layout.current_name() == "v3" and layout.list_versions() == ["v1", "v2", "v3"]
    assert layout.rollback() == ("v3", "v2")
    assert layout.current().name == "v2"
    assert layout.rollback() == ("v2", "v1")
    with pytest.raises(NothingToRollBack):
        layout.rollback()


def test_rollback_refuses_while_a_build_holds_the_lock(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    _publish(layout, "v1")
    _publish(layout, "v2")
    with layout.lock():
        assert layout.build_running()
        with pytest.raises(IndexLocked):
            layout.rollback()
    assert not layout.build_running()
    assert layout.current_name() == "v2"


def test_damaged_current_version_is_reported_with_a_rollback_hint(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    _publish(layout, "v1")
    (layout.versions / "v1" / "manifest.json").unlink()
    with pytest.raises(IndexNotFound, match="python -m index rollback"):
        layout.current()


def test_sweep_removes_half_built_versions_and_prune_keeps_the_serving_one(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2", "v3", "v4"):
        _publish(layout, name)
    (layout.tmp / "half").mkdir(parents=True)
    (layout.versions / "orphan").mkdir()
    assert sorted(layout.sweep_tmp()) == ["half", "orphan"]
    layout.switch("v1")  # serving an old version after a rollback
    assert layout.prune(keep=2) == ["v2"]
    assert layout.list_versions() == ["v1", "v3", "v4"]


# ---- rollback history, damaged targets, unwritable folders (issue 30) --------------------
def _orphan(layout: IndexDir, name: str) -> None:
    """What a build killed between moving its version into versions/ and switching CURRENT leaves."""
    (layout.versions / name).mkdir(parents=True)
    (layout.versions / name / "manifest.json").write_text(json.dumps({"version": name}))


def test_rollback_returns_to_the_version_that_served_not_a_newer_orphan(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2"):
        _publish(layout, name)
    _orphan(layout, "v3")  # complete, newer than v2, never served
    _publish(layout, "v4")
    assert layout.rollback() == ("v4", "v2")
    assert layout.rollback() == ("v2", "v1")  # and on back, not to and fro
    with pytest.raises(NothingToRollBack):
        layout.rollback()
    assert [e["to"] for e in layout.history()] == ["v1", "v2", "v4", "v2", "v1"]


def test_rollback_of_an_index_without_history_uses_the_last_builds_report(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2", "v3"):
        _publish(layout, name)
    layout.history_file.unlink()  # an index built before HISTORY existed
    layout.report.write_text(json.dumps({"status": "published", "version": "v3", "previous_version": "v1"}))
    assert layout.rollback() == ("v3", "v1")  # the build that published v3 replaced v1: v2 never served
    layout.report.unlink()
    layout.history_file.unlink()
    layout.switch("v3")
    layout.history_file.unlink()
    assert layout.rollback() == ("v3", "v2")  # no record at all: the newest older version, as before


def test_rollback_skips_versions_pruned_since(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2", "v3"):
        _publish(layout, name)
    shutil.rmtree(layout.versions / "v2")
    assert layout.rollback() == ("v3", "v1")


def test_rollback_refuses_a_damaged_target_and_keeps_serving(tmp_path):
    from index.storage.layout import IndexDamaged
    from index.storage.store import MetaStore

    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2"):
        staged = layout.tmp / name
        staged.mkdir(parents=True)
        with MetaStore(staged / "meta.sqlite"):
            pass
        (staged / "manifest.json").write_text(json.dumps({"version": name, "counts": {"articles": 0, "passages": 0}}))
        layout.publish(staged, name)
    assert layout.version_problem("v1") is None
    with open(layout.versions / "v1" / "meta.sqlite", "r+b") as fh:
        fh.write(b"\0" * 100)
    with pytest.raises(IndexDamaged, match="meta.sqlite") as err:
        layout.rollback()
    assert "v1" in str(err.value) and "still serving v2" in str(err.value)
    assert layout.current_name() == "v2"
    (layout.versions / "v1" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexDamaged, match="manifest.json"):
        layout.rollback()


def test_prune_keeps_the_version_a_rollback_returns_to(tmp_path):
    layout = IndexDir(tmp_path / "idx")
    _publish(layout, "v1")
    _orphan(layout, "v2")
    _orphan(layout, "v3")
    _publish(layout, "v4")
    assert layout.prune(keep=3) == []  # v1 is what served before v4: kept beyond the count
    assert layout.rollback() == ("v4", "v1")


def test_an_unwritable_index_folder_is_a_clear_error_and_writes_leave_no_tmp(tmp_path, monkeypatch):
    import errno

    from index.storage import layout as layout_module
    from index.storage.layout import IndexNotWritable, write_atomic

    layout = IndexDir(tmp_path / "idx")
    _publish(layout, "v1")
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        if str(path).endswith(".tmp"):
            fh.close()
            fh = real_open(path, mode, *args, **kwargs)

            class Full:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    fh.close()

                def write(self, text):
                    raise OSError(errno.ENOSPC, "No space left on device")

            return Full()
        return fh

    monkeypatch.setattr(layout_module, "open", full_disk, raising=False)
    with pytest.raises(OSError, match="No space"):
        write_atomic(layout.pointer, "v2\n")
    assert layout.current_name() == "v1" and not (layout.root / "CURRENT.tmp").exists()

    def read_only(path, mode="r", *args, **kwargs):
        if str(path).endswith("build.lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(layout_module, "open", read_only, raising=False)
    with pytest.raises(IndexNotWritable, match="writable"):
        layout.rollback()


def test_status_of_an_index_with_a_damaged_manifest_is_a_clear_error(tmp_path):
    from index.storage.layout import IndexDamaged

    layout = IndexDir(tmp_path / "idx")
    _publish(layout, "v1")
    (layout.versions / "v1" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexDamaged, match="manifest.json cannot be read.*rollback"):
        layout.describe()
