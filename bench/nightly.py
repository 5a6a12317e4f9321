"""What the nightly job costs: a full build, a run with nothing changed, and a 1% change.

The claim to check is that a run's cost follows the amount of change, not the
size of the corpus: a no-change run should cost a few percent of a full
build, and a 1% change little more than embedding the changed passages. All
three runs use the project's own `build_index` on a private copy of the
source, one after the other in the same process, so the ratios compare like
with like. The full build starts from an empty embedding cache (cold), as on
a new server.

The 1% change mixes what a night brings: half of the touched articles edited
(a paragraph appended), a quarter added (new ids) and a quarter deleted.
"""
from __future__ import annotations

import json
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

EDIT_NOTE = "\n\n（{date}更新：本文根据读者提问补充了第{n}条说明，内容以最新法律规定为准。）"


@dataclass
class ChangeSet:
    """How many articles a simulated night edited, added and removed."""

    edited: int
    added: int
    removed: int

    @property
    def touched(self) -> int:
        return self.edited + self.added + self.removed


def plan_change(n_articles: int, share: float) -> ChangeSet:
    """At least one article; a quarter each added and removed, the rest edited."""
    n = max(1, round(n_articles * share))
    added = removed = n // 4
    return ChangeSet(edited=n - added - removed, added=added, removed=removed)


def _spread(n_items: int, k: int, offset: int = 0) -> list[int]:
    """k indices spread evenly over range(n_items), so a change is not one contiguous block."""
    if k <= 0:
        return []
    step = n_items / k
    return sorted({min(n_items - 1, int(i * step) + offset) for i in range(k)})


def copy_source(source: Path, work: Path) -> Path:
    """A private copy the bench may edit: a JSONL file or a folder of Markdown articles."""
    if source.is_dir():
        dest = work / "source"
        shutil.copytree(source, dest)
    else:
        dest = work / source.name
        shutil.copyfile(source, dest)
    return dest


def apply_change(source: Path, share: float, date: str = "2026年11月") -> ChangeSet:
    """Edit, add and remove about `share` of the articles in place (JSONL or Markdown folder)."""
    if source.is_dir():
        return _change_markdown(source, share, date)
    return _change_jsonl(source, share, date)


def _change_jsonl(path: Path, share: float, date: str) -> ChangeSet:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    change = plan_change(len(lines), share)
    edit_at = set(_spread(len(lines), change.edited))
    drop_at = set(_spread(len(lines), change.removed, offset=1)) - edit_at
    copy_from = _spread(len(lines), change.added, offset=2)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop_at:
            continue
        if i in edit_at:
            rec = json.loads(line)
            rec["body"] = rec["body"] + EDIT_NOTE.format(date=date, n=i)
            line = json.dumps(rec, ensure_ascii=False)
        out.append(line)
    for j, i in enumerate(copy_from):
        rec = json.loads(lines[i])
        rec["id"] = f"bench-new-{j}-{rec.get('id', i)}"
        rec["title"] = f"{rec['title']}（新增{j}）"
        rec["body"] = rec["body"] + EDIT_NOTE.format(date=date, n=100_000 + j)
        out.append(json.dumps(rec, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return ChangeSet(edited=len(edit_at), added=len(copy_from), removed=len(drop_at))


def _change_markdown(folder: Path, share: float, date: str) -> ChangeSet:
    files = sorted(folder.rglob("*.md"))
    change = plan_change(len(files), share)
    edit_at = set(_spread(len(files), change.edited))
    drop_at = set(_spread(len(files), change.removed, offset=1)) - edit_at
    copy_from = _spread(len(files), change.added, offset=2)
    for j, i in enumerate(copy_from):
        text = files[i].read_text(encoding="utf-8").replace("title: ", f"title: 新增{j} ", 1)
        files[i].with_name(f"bench-new-{j}-{files[i].name}").write_text(
            text + EDIT_NOTE.format(date=date, n=100_000 + j), encoding="utf-8")
    for i in edit_at:
        files[i].write_text(files[i].read_text(encoding="utf-8") + EDIT_NOTE.format(date=date, n=i), encoding="utf-8")
    for i in drop_at:
        files[i].unlink()
    return ChangeSet(edited=len(edit_at), added=len(copy_from), removed=len(drop_at))


def _run(source: Path, index: Path, full: bool, embedder, tokenizer) -> dict:
    from index.build.pipeline import BuildOptions, build_index

    t0 = time.perf_counter()
    report = build_index([str(source)], index, BuildOptions(full=full, progress=False),
                         embedder=embedder, tokenizer=tokenizer)
    wall = time.perf_counter() - t0
    if report.exit_code != 0:
        raise RuntimeError(f"nightly bench build failed: {report.status}: {report.message}")
    d = report.to_dict()
    keep = ("status", "articles_total", "articles_added", "articles_changed", "articles_removed",
            "articles_unchanged", "passages_total", "passages_embedded", "passages_reused", "stage_seconds")
    # ru_maxrss is the process's high-water mark so far (KiB on Linux): for the first
    # (full) run it is the build's peak; later runs can only show it did not grow.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**{k: d[k] for k in keep}, "seconds": round(wall, 2), "process_peak_rss_mb": round(peak, 1)}


def measure(name: str, source: Path, work: Path, *, share: float = 0.01, embedder=None, tokenizer=None,
            log=print) -> dict:
    """Full (cold) build, then no-change, then a `share` change, on a copy of `source` under `work`."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy = copy_source(Path(source), work)
    index = work / "index"

    log(f"nightly {name}: full build from an empty embedding cache")
    full = _run(copy, index, True, embedder, tokenizer)
    full["passages_per_s"] = round(full["passages_embedded"] / max(1e-9, full["stage_seconds"].get("embed", 0.0)), 1)
    log(f"  full: {full['seconds']:.1f}s, {full['passages_embedded']} passages embedded "
        f"({full['passages_per_s']:.1f}/s in the embed stage)")

    log(f"nightly {name}: run again, nothing changed")
    same = _run(copy, index, False, embedder, tokenizer)
    log(f"  no change: {same['seconds']:.1f}s ({same['status']})")

    change = apply_change(copy, share)
    log(f"nightly {name}: {change.edited} edited, {change.added} added, {change.removed} removed")
    changed = _run(copy, index, False, embedder, tokenizer)
    log(f"  {share:.0%} change: {changed['seconds']:.1f}s, {changed['passages_embedded']} passages embedded")

    shutil.rmtree(work, ignore_errors=True)
    return {
        "name": name, "source": str(source), "share": share, "change": change.__dict__ | {"touched": change.touched},
        "full": full, "no_change": same, "changed": changed,
        "no_change_vs_full": round(same["seconds"] / full["seconds"], 4),
        "changed_vs_full": round(changed["seconds"] / full["seconds"], 4),
    }
