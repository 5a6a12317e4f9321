"""The simulated night that the nightly bench applies: it must touch the share it says, in both formats."""
from __future__ import annotations

import json

from bench.nightly import apply_change, plan_change
from ingest.load import load


def test_plan_change_touches_at_least_one_article():
    assert plan_change(68, 0.01).touched == 1
    c = plan_change(55_502, 0.01)
    assert c.touched == 555 and c.added == c.removed == 138 and c.edited == 279


def test_jsonl_change_edits_adds_and_removes(tmp_path):
    path = tmp_path / "a.jsonl"
    recs = [{"id": f"a{i}", "title": f"标题{i}", "body": f"第{i}篇正文。"} for i in range(400)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n", encoding="utf-8")
    change = apply_change(path, 0.01)
    assert (change.edited, change.added, change.removed) == (2, 1, 1)
    after = {a.id: a for a in load(path).articles}
    before = {r["id"]: r for r in recs}
    assert len(after) == 400 - 1 + 1
    assert len(set(before) - set(after)) == 1
    assert sum(1 for i in after if i in before and after[i].body != before[i]["body"]) == 2
    assert sum(1 for i in after if i.startswith("bench-new-")) == 1


def test_markdown_change_edits_adds_and_removes(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(8):
        (folder / f"a{i}.md").write_text(f"---\ntitle: 标题{i}\ncategory: 测试\n---\n\n第{i}篇正文。\n", encoding="utf-8")
    change = apply_change(folder, 0.5)
    assert (change.edited, change.added, change.removed) == (2, 1, 1)
    arts = load(folder).articles
    assert len(arts) == 8
    assert sum(1 for a in arts if "更新" in a.body and not a.id.startswith("bench-new-")) == 2
