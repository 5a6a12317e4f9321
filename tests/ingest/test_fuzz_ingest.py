"""Property tests: random JSON records and random front matter thrown at `load` and `inspect`.

Whatever a CMS export or an author writes, no exception escapes, and every
record is accounted for exactly once: an article whose fields are well-typed
strings made from string input (never a repr of a list, a bool or an object),
or a skipped entry naming its file and line. A reusable harness: the
strategies are module-level, for other tests to draw from.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.cli import main as ingest_main
from ingest.load import load
from ingest.records import Article

FIELDS = ("id", "title", "body", "category", "published", "date", "tags", "url")
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# text with the things that broke the job: half an emoji, control characters, full-width forms, markup
broken_text = st.builds(lambda a, b: a + "\ud83d" + b, st.text(max_size=8), st.text(max_size=8))
texts = st.one_of(
    st.text(max_size=40),
    broken_text,
    st.sampled_from(
        [
            "",
            " ",
            "yes",
            "True",
            "None",
            "[a, b]",
            "{'x': 1}",
            "2025-13-45",
            "2025-03-02",
            "2025/3/2",
            "https://example.cn/a?utm_source=x",
            "javascript:alert(1)",
            "劳动, 工资",
            "<script>alert(1)</script>",
            "## 标题\n正文。",
            "\x00\x1f\u2028",
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
prose = st.lists(
    st.sampled_from(
        [
            "网贷逾期",
            "会有人上门吗",
            "？",
            "。",
            "\n",
            "## 标题\n",
            "《民法典》第1032条",
            " ",
            "版权声明：本文原创",
            "ABC",
            "\ud83d",
        ]
    ),
    min_size=1,
    max_size=30,
).map("".join)
bodies = st.one_of(prose, prose, prose, st.text(min_size=1, max_size=200), json_values)
titles = st.one_of(texts, texts, prose, json_values)
# mostly plausible records, so that both outcomes (an article, a skip) are exercised
records = st.one_of(
    st.fixed_dictionaries(
        {"body": bodies, "title": titles},
        optional={k: json_values for k in FIELDS if k not in ("body", "title")},
    ),
    st.fixed_dictionaries(
        {"body": bodies, "title": titles},
        optional={k: json_values for k in FIELDS if k not in ("body", "title")},
    ),
    st.fixed_dictionaries({}, optional={k: json_values for k in FIELDS}),
    json_values,
)


def check_article(a: Article, record: dict) -> None:
    """Well-typed fields, and each stored value comes from a text (or a number, for id and tags)."""
    for name in ("id", "title", "body", "source"):
        assert isinstance(getattr(a, name), str) and getattr(a, name).strip()
    assert a.published is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.published)
    assert a.url is None or a.url.startswith(("http://", "https://"))
    assert isinstance(a.tags, list) and all(isinstance(t, str) and t for t in a.tags)
    for value in (a.id, a.title, a.body, a.category, a.url, *a.tags):
        if value is not None:
            value.encode("utf-8")  # no lone surrogate
    if record.get("title") not in (None, ""):
        assert isinstance(record["title"], str)
    if a.category is not None:
        assert isinstance(record.get("category"), str)
    if a.tags:
        assert isinstance(record.get("tags"), (str, list))
        if isinstance(record["tags"], list):
            assert all(isinstance(t, (str, int)) and not isinstance(t, bool) for t in record["tags"])
    if record.get("id") not in (None, ""):
        assert isinstance(record["id"], (str, int)) and not isinstance(record["id"], bool)


def assert_accounted(path: Path, lines: list[str], originals: list[object]) -> None:
    res = load(path)
    by_line: dict[int, list[str]] = {}
    for a in res.articles:
        n = int(a.source.rsplit(":", 1)[1])
        by_line.setdefault(n, []).append("article")
        check_article(a, originals[n - 1] if isinstance(originals[n - 1], dict) else {})
    for s in res.skipped:
        assert s.line is not None and s.source == f"{path}:{s.line}", s
        assert s.reason and "Traceback" not in s.reason
        if not s.kept:
            by_line.setdefault(s.line, []).append("skipped")
    for n, line in enumerate(lines, start=1):
        if line.strip():
            assert by_line.get(n) in (["article"], ["skipped"]), (n, line[:200], by_line.get(n))


@FAST
@given(st.lists(records, min_size=1, max_size=6))
def test_random_jsonl_records(tmp_path, recs):
    lines = [json.dumps(r, ensure_ascii=True) for r in recs]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_accounted(path, lines, list(recs))


garbage_lines = st.one_of(
    st.text(max_size=60),
    st.builds(lambda n: "[" * n, st.integers(0, 3000)),
    st.builds(lambda n: '{"a":' * n, st.integers(0, 3000)),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


@FAST
@given(
    st.lists(
        st.one_of(records.map(lambda r: json.dumps(r, ensure_ascii=False)), garbage_lines),
        min_size=1,
        max_size=6,
    )
)
def test_random_jsonl_lines_including_garbage(tmp_path, lines):
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    path = tmp_path / "export.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    originals: list[object] = []
    for ln in lines:
        try:
            originals.append(json.loads(ln))
        except (ValueError, RecursionError):
            originals.append(None)
    assert_accounted(path, [ln.replace("\x0b", "").replace("\x0c", "") for ln in lines], originals)


yaml_safe = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=30),
        st.sampled_from(["2025-13-45", "2025-03-02", "yes", "[a, b]"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@FAST
@given(
    st.one_of(
        st.fixed_dictionaries({}, optional={k: yaml_safe for k in FIELDS if k != "body"}).map(
            lambda d: yaml.safe_dump(d, allow_unicode=True)
        ),
        st.text(max_size=120),
    ),
    st.text(max_size=200),
)
def test_random_front_matter(tmp_path, front, content):
    path = tmp_path / "a.md"
    path.write_text(f"---\n{front}\n---\n{content}", encoding="utf-8", errors="surrogatepass")
    res = load(path)
    kept = [s for s in res.skipped if not s.kept]
    assert len(res.articles) + len(kept) == 1, res
    for s in res.skipped:
        assert s.source == str(path) and s.reason
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError:
        meta = None
    for a in res.articles:
        check_article(a, meta if isinstance(meta, dict) else {})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, min_size=1, max_size=4))
def test_inspect_never_raises(tmp_path, recs):
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=True) for r in recs) + "\n", encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        code = ingest_main(["inspect", str(path), "--json"])
    shown = json.loads(out.getvalue())
    assert code in (0, 1)
    assert code == (1 if not shown["articles"] and any(not s["kept"] for s in shown["skipped"]) else 0)
