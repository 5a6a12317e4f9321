"""index.storage.layout without a model: versions, the CURRENT pointer, lock, rollback, pruning."""
from __future__ import annotations

import json

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
