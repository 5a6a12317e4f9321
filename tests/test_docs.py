"""The front door and the documentation: small READMEs, and every relative link in them leads somewhere.

A link is checked the way GitHub renders it: the file (or folder) must exist
relative to the page, and a `#fragment` into a Markdown page must be one of that
page's heading anchors (GitHub's slugs: lower case, punctuation dropped, spaces
to hyphens; Chinese characters kept).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONT_DOORS = [ROOT / "README.md", ROOT / "README.en.md"]
PAGES = [*FRONT_DOORS, *sorted((ROOT / "docs").rglob("*.md"))]
MAX_README_BYTES = 20 * 1024
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8")))}


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", FRONT_DOORS, ids=lambda p: p.name)
def test_front_door_is_small(page):
    assert page.stat().st_size <= MAX_README_BYTES, f"{page.name}: {page.stat().st_size:,} bytes"


def test_the_readme_is_chinese_first_and_links_its_twin():
    zh = (ROOT / "README.md").read_text(encoding="utf-8")
    en = (ROOT / "README.en.md").read_text(encoding="utf-8")
    han = len(re.findall(r"[\u4e00-\u9fff]", zh))
    assert han > 1500, han
    assert "(README.en.md)" in zh and "(README.md)" in en
    assert "WALLTIME" not in zh + en and "WEIGHT_" not in zh + en  # no placeholder left


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == [], broken


def test_every_docs_page_is_reachable_from_the_documentation_index():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    top = [p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md"]
    assert [name for name in top if f"({name}" not in index] == []


def test_the_readmes_make_commands_exist():
    for line in ("make run", "make test", "make install", "make run SOURCE=/tmp/a INDEX=/tmp/b",
                 "make api INDEX=/tmp/b", "make index SOURCE=/tmp/a INDEX=/tmp/b", "make insights"):
        dry = subprocess.run([*line.split(), "-n"], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, (line, dry.stderr)
