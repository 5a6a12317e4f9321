"""Issue 15, ingest half: one bad record never stops a run, and the source folder cannot leak.

The folder built by `bad_corpus.make_bad_corpus` holds good articles among
more than 30 kinds of bad file and bad JSONL record. Loading it must return
every good article, report every bad input under its file (and line) with a
specific reason, and never store a Python repr or text that cannot be encoded.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
from contextlib import redirect_stdout
from dataclasses import asdict
from pathlib import Path

import pytest

from ingest.cli import main as ingest_main
from ingest.files import walk_folder
from ingest.ids import article_id, canonical_url
from ingest.load import LoadConfig, load, load_many
from ingest.normalize import decode_bytes, describe, parse_tags
from ingest.records import Article, LoadResult, Skipped
from tests.ingest.bad_corpus import MAX_BYTES, BadCorpus, Expect, body, make_bad_corpus, md

REPR = re.compile(r"^\[.*\]$|^\{.*\}$|^\(.*\)$|^(?:True|False|None)$|^<.* object at 0x[0-9a-f]+>$", re.S)
SURROGATE = re.compile("[\ud800-\udfff]")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> BadCorpus:
    return make_bad_corpus(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def loaded(corpus) -> LoadResult:
    return load(corpus.folder, LoadConfig(max_bytes=MAX_BYTES))


def matches(e: Expect, s: Skipped) -> bool:
    return s.source.endswith("/" + e.source) and e.reason in s.reason and s.kept == e.kept


def assert_well_typed(a: Article) -> None:
    """Every field has its one shape; nothing is a Python repr; everything encodes as UTF-8."""
    for name in ("id", "title", "body", "source"):
        value = getattr(a, name)
        assert isinstance(value, str) and value.strip(), (name, a)
    for name in ("url", "category", "published"):
        assert getattr(a, name) is None or isinstance(getattr(a, name), str), (name, a)
    assert isinstance(a.tags, list) and all(isinstance(t, str) and t for t in a.tags), a
    assert a.published is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.published), a
    assert a.url is None or a.url.startswith(("http://", "https://")), a
    for value in (a.id, a.title, a.category, a.published, a.url, *a.tags):
        if value is not None:
            assert not REPR.match(value), f"Python repr stored: {value!r} in {a.source}"
    for value in (a.id, a.title, a.body, a.category, a.url, a.source, *a.tags):
        if value is not None:
            assert not SURROGATE.search(value), a.source
            value.encode("utf-8")


def test_the_folder_holds_at_least_thirty_kinds_of_bad_input(corpus):
    kinds = {e.kind for e in corpus.expected}
    assert len(kinds) >= 30, sorted(kinds)


def test_every_good_article_loads(loaded, corpus):
    assert sorted(a.title for a in loaded.articles) == sorted(corpus.good_titles)


def test_every_bad_input_is_reported_with_file_line_and_specific_reason(loaded, corpus):
    for e in corpus.expected:
        found = [s for s in loaded.skipped if matches(e, s)]
        assert len(found) == 1, f"{e.kind}: expected {e.source!r} with {e.reason!r}, got:\n" + "\n".join(
            f"{s.source}: {s.reason}" for s in loaded.skipped if s.source.endswith(e.source)
        )
        assert found[0].line == e.line, (e, found[0])
    unexplained = [s for s in loaded.skipped if not any(matches(e, s) for e in corpus.expected)]
    assert unexplained == []


def test_jsonl_entries_name_their_line(loaded):
    jsonl = [s for s in loaded.skipped if ".jsonl:" in s.source]
    assert len(jsonl) >= 20
    assert all(s.line is not None and s.source.endswith(f":{s.line}") for s in jsonl)


def test_no_field_holds_a_python_repr_or_broken_text(loaded):
    for a in loaded.articles:
        assert_well_typed(a)
    for s in loaded.skipped:  # what report.json and the terminal show can be written as UTF-8
        json.dumps(asdict(s), ensure_ascii=False).encode("utf-8")


def test_warnings_keep_the_article_without_the_bad_field(loaded):
    def kept(name: str) -> Article:
        (article,) = [a for a in loaded.articles if a.source.endswith(name)]
        return article

    assert kept("tags-5.md").tags == [] and kept("tags-5.md").category == "测试"
    assert kept("bad-date.md").published is None
    assert kept("export.jsonl:7").category is None and kept("export.jsonl:9").tags == []
    assert kept("export.jsonl:17").url is None
    assert next(a for a in loaded.articles if a.source.endswith("good.md")).tags == ["劳动", "2024"]
    surrogate = next(a for a in loaded.articles if a.title.startswith("\ufffd"))
    assert surrogate.source.endswith("export.jsonl:3")


def test_same_page_by_http_utm_slash_fragment_is_one_article_https_kept(loaded):
    page = [a for a in loaded.articles if a.url == "https://www.example-law.cn/hf/20001.html"]
    assert len(page) == 1 and page[0].source.endswith("/page.txt")
    faq = [a for a in loaded.articles if a.url and "/faq/77" in a.url]
    assert [a.url for a in faq] == ["https://www.example-law.cn/faq/77"]


def test_nothing_from_outside_the_folder(loaded, corpus):
    for a in loaded.articles:
        assert "root:x:0:0" not in a.body and "nologin" not in a.body
        assert Path(a.source.rsplit(".jsonl:", 1)[0]).resolve().is_relative_to(corpus.folder.resolve()) or (
            "\\x" in a.source  # the file whose name is not UTF-8 is shown with \xNN escapes
        )


def test_inspect_exits_0_and_prints_json(corpus):
    out = io.StringIO()
    with redirect_stdout(out):
        code = ingest_main(["inspect", str(corpus.folder), "--json", "--max-bytes", str(MAX_BYTES)])
    assert code == 0
    shown = json.loads(out.getvalue())
    assert len(shown["articles"]) == len(corpus.good_titles)
    assert all({"source", "reason", "line", "kept"} <= set(s) for s in shown["skipped"])


def test_inspect_of_one_bad_record_among_good_ones_exits_0(tmp_path):
    export = tmp_path / "export.jsonl"
    export.write_text(
        json.dumps({"title": "好的", "body": body(0)}, ensure_ascii=False)
        + "\n"
        + "[" * 100_000
        + "\n"
        + '{"title": "\\ud83d 截断的表情", "body": "正文。", "tags": 5}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    with redirect_stdout(out):
        assert ingest_main(["inspect", str(export)]) == 0
    text = out.getvalue()
    assert f"SKIPPED {export}:2: JSON nested deeper" in text
    assert f"WARNING {export}:3: tags must be" in text
    # a file holding only bad records could not be read at all: exit 1, as documented
    (tmp_path / "bad.jsonl").write_text("[" * 1000 + "\n", encoding="utf-8")
    with redirect_stdout(io.StringIO()):
        assert ingest_main(["inspect", str(tmp_path / "bad.jsonl")]) == 1


# --- symbolic links, special files, permissions -----------------------------------


def test_follow_symlinks_reads_links_inside_the_folder_only(tmp_path):
    src, outside = tmp_path / "src", tmp_path / "outside"
    (src / "sub").mkdir(parents=True)
    outside.mkdir()
    (src / "sub" / "real.md").write_text(md(0), encoding="utf-8")
    (outside / "secret.md").write_text(md(1), encoding="utf-8")
    os.symlink("sub/real.md", src / "alias.md")  # a second name for a file the folder holds
    os.symlink("sub", src / "a-linked-dir")  # sorts before the real folder: the real path must still win
    os.symlink(outside / "secret.md", src / "secret.md")
    os.symlink(outside, src / "outside-dir")
    os.symlink("..", src / "sub" / "up")  # back to the root: a folder loop
    os.symlink("loop-b.md", src / "loop-a.md")
    os.symlink("loop-a.md", src / "loop-b.md")
    (src / "sub" / "other.md").write_text(md(2), encoding="utf-8")
    os.symlink("sub/other.md", src / "only-via-link.md")
    os.remove(src / "sub" / "other.md")  # now dangling
    res = load(src, LoadConfig(follow_symlinks=True))
    assert [a.id for a in res.articles] == ["sub/real"]
    reasons = {Path(s.source).relative_to(src).as_posix(): s.reason for s in res.skipped}
    assert "outside the source folder" in reasons["secret.md"]
    assert "outside the source folder" in reasons["outside-dir"]
    assert "loop" in reasons["loop-a.md"] and "loop" in reasons["loop-b.md"]
    assert "broken symbolic link" in reasons["only-via-link.md"]
    assert "read under its own name" in reasons["alias.md"]
    assert "read anyway" in reasons["a-linked-dir"] and "read anyway" in reasons["sub/up"]
    # without follow_symlinks every link is reported, none is read
    plain = load(src)
    assert [a.id for a in plain.articles] == ["sub/real"]
    assert "not followed" in {Path(s.source).name: s.reason for s in plain.skipped}["alias.md"]


def test_a_followed_link_gives_the_links_own_path_as_id(tmp_path):
    src = tmp_path / "src"
    (src / "drafts").mkdir(parents=True)
    (src / "drafts" / "x.txt").write_text("not markdown", encoding="utf-8")
    (src / "drafts" / "y.markdown").write_text(md(3), encoding="utf-8")
    os.symlink("drafts/y.markdown", src / "published.md")
    res = load(src, LoadConfig(follow_symlinks=True))
    assert sorted(a.id for a in res.articles) == ["drafts/y"]


def test_fifo_socket_and_folder_named_like_a_file_never_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    res = load(tmp_path / "pipe.md")  # named as the source itself: still not opened for blocking reads
    assert res.articles == [] and "named pipe" in res.skipped[0].reason
    files, refused = walk_folder(tmp_path)
    assert files == [] and [Path(s.source).name for s in refused] == ["pipe.md"]


def test_unreadable_file_reason(tmp_path, monkeypatch):
    (tmp_path / "locked.md").write_text(md(0), encoding="utf-8")
    import ingest.files

    real_open = os.open

    def deny(path, flags, *args):
        if str(path).endswith("locked.md"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(ingest.files.os, "open", deny)
    res = load(tmp_path)
    assert res.articles == []
    (skip,) = res.skipped
    assert (
        skip.source.endswith("locked.md")
        and "permission denied" in skip.reason
        and "read access" in skip.reason
    )


def test_unreadable_file_for_real(tmp_path):
    if os.geteuid() == 0:
        pytest.skip(
            "running as root: file permissions do not stop root (test_unreadable_file_reason covers it)"
        )
    path = tmp_path / "locked.md"
    path.write_text(md(0), encoding="utf-8")
    path.chmod(0)
    res = load(tmp_path)
    assert res.articles == [] and "permission denied" in res.skipped[0].reason


def test_url_list_is_fetched_only_when_named_as_the_source(tmp_path):
    from ingest.load import URL_LIST_IN_FOLDER

    (tmp_path / "urls.txt").write_text("http://127.0.0.1:9/admin.html\n", encoding="utf-8")
    res = load(tmp_path, LoadConfig(allow_private=True))
    assert res.articles == [] and res.skipped[0].reason == URL_LIST_IN_FOLDER
    direct = load(tmp_path / "urls.txt")  # fetched, and refused: a loopback address
    assert direct.articles == [] and "loopback" in direct.skipped[0].reason


def test_missing_and_looping_source_paths(tmp_path):
    os.symlink("me", tmp_path / "me")
    res = load_many([str(tmp_path / "nope"), str(tmp_path / "me")])
    assert res.articles == []
    assert "no such file" in res.skipped[0].reason and "cannot read" in res.skipped[1].reason


# --- fields: one shape each, the same in front matter and JSONL ----------------------


FIELD_CASES = [
    ({"tags": 5}, "tags must be a list", True),
    ({"tags": [{"name": "a"}]}, "tags must be texts", True),
    ({"tags": [True]}, "tags must be texts", True),
    ({"category": ["a", "b"]}, "category must be text", True),
    ({"category": 12}, "category must be text", True),
    ({"published": "2025-13-45"}, "is not a date (YYYY-MM-DD)", True),
    ({"published": "yesterday"}, "is not a date", True),
    ({"published": "1850-01-01"}, "is not a date", True),
    ({"url": "ftp://example.cn/a"}, "not an http(s) address", True),
    ({"url": ["https://example.cn/a"]}, "url must be text", True),
    ({"title": ["拖欠", "工资"]}, "title must be text, found a list", False),
    ({"title": {"zh": "标题"}}, "title must be text, found an object", False),
    ({"id": {"x": 1}}, "id must be text or a whole number", False),
    ({"id": "x" * 300}, "at most 200", False),
]


@pytest.mark.parametrize("fields,reason,kept", FIELD_CASES)
def test_front_matter_and_jsonl_judge_fields_the_same(tmp_path, fields, reason, kept):
    import yaml

    record = {"id": "case", "title": "字段测试的标题", "body": body(4), **fields}
    (tmp_path / "export.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    meta = {k: v for k, v in record.items() if k != "body"}
    front = yaml.safe_dump(meta, allow_unicode=True)
    (tmp_path / "case.md").write_text(f"---\n{front}---\n{record['body']}\n", encoding="utf-8")
    for path in (tmp_path / "export.jsonl", tmp_path / "case.md"):
        res = load(path)
        (skip,) = res.skipped
        assert reason in skip.reason and skip.kept is kept, (path.name, skip)
        assert len(res.articles) == (1 if kept else 0)
        for a in res.articles:
            assert_well_typed(a)
    if kept:
        md_art, jsonl_art = (
            load(tmp_path / "case.md").articles[0],
            load(tmp_path / "export.jsonl").articles[0],
        )
        same = ("title", "category", "published", "tags", "url")
        assert [getattr(md_art, f) for f in same] == [getattr(jsonl_art, f) for f in same]


def test_good_field_shapes_are_accepted_alike(tmp_path):
    record = {
        "id": 1234,
        "title": " 标题 ",
        "body": body(5),
        "category": "劳动纠纷 ",
        "published": "2025/3/2",
        "tags": "试用期，经济补偿、 试用期",
        "url": "HTTPS://Example.CN/a/?utm_source=x#top",
    }
    (tmp_path / "e.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (a,) = load(tmp_path / "e.jsonl").articles
    assert (a.id, a.title, a.category, a.published, a.tags, a.url) == (
        "1234",
        "标题",
        "劳动纠纷",
        "2025-03-02",
        ["试用期", "经济补偿"],
        "https://example.cn/a",
    )
    text = "---\ntitle: 标题\ndate: 2025-03-02T08:00:00+08:00\ntags: 试用期, 经济补偿\n---\n" + body(5)
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    (m,) = load(tmp_path / "a.md").articles
    assert (m.published, m.tags) == ("2025-03-02", ["试用期", "经济补偿"])


def test_title_from_first_heading_or_sentence(tmp_path):
    lines = [
        {"id": "h", "body": "## 借款合同纠纷怎么打官司\n\n第一句话。"},
        {"id": "s", "title": "   ", "body": "网贷逾期了怎么办？先别慌。"},
        {"id": "long", "body": "这是一句非常非常长的没有标点的句子" * 5},
    ]
    (tmp_path / "e.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8"
    )
    res = load(tmp_path / "e.jsonl")
    titles = {a.id: a.title for a in res.articles}
    assert titles["h"] == "借款合同纠纷怎么打官司"
    assert titles["s"] == "网贷逾期了怎么办？"
    assert len(titles["long"]) == 40 and titles["long"].endswith("…")
    assert [s.kept for s in res.skipped] == [True, True, True]
    assert all("no title" in s.reason and s.line for s in res.skipped)


# --- encodings -------------------------------------------------------------------


def test_utf16_without_bom_with_characters_that_have_a_zero_byte():
    text = "一个不一样的问题：试用期一般多长？\n劳动合同期限三个月以上不满一年的，试用期不得超过一个月。"
    for codec in ("utf-16-le", "utf-16-be"):
        assert decode_bytes(text.encode(codec)) == text


def test_utf8_with_a_few_invalid_bytes_is_still_utf8():
    text = "网贷逾期会有人上门吗？" * 3
    data = text.encode("utf-8")
    broken = data[:9] + b"\xff" + data[9:]
    assert decode_bytes(broken) == text[:3] + "\ufffd" + text[3:]
    assert decode_bytes(b"short \xff ascii") == "short \ufffd ascii"


def test_gbk_page_mostly_markup_is_gbk():
    html = "<div class='x'>abc</div>" * 2000 + "<p>网贷逾期会有人上门吗</p>"
    assert decode_bytes(html.encode("gbk")) == html


# --- URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,canonical",
    [
        ("https://www.example-law.cn/hf/1.html", "https://www.example-law.cn/hf/1.html"),
        (
            "http://WWW.Example-Law.CN:80/hf/1.html/?utm_source=wx&utm_medium=x#top",
            "http://www.example-law.cn/hf/1.html",
        ),
        ("https://user:pw@example.cn:443/a?b=2&utm_campaign=c&a=1", "https://example.cn/a?b=2&a=1"),
        ("https://example.cn", "https://example.cn/"),
        ("https://x.cn/show.asp?12345", "https://x.cn/show.asp?12345"),  # a bare query is the page, not noise
        ("https://x.cn/中文", "https://x.cn/%E4%B8%AD%E6%96%87"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
        ("ftp://x.cn/a", None),
        ("https://[::1", None),
        ("/relative/path", None),
        ("https://x.cn/a b", None),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_ids_ignore_scheme_slash_tracking_and_fragment():
    base = article_id("https://www.example-law.cn/hf/1.html", "t")
    for variant in (
        "http://www.example-law.cn/hf/1.html",
        "https://www.example-law.cn/hf/1.html/",
        "https://WWW.example-law.cn/hf/1.html?utm_source=x",
        "https://www.example-law.cn/hf/1.html#p2",
    ):
        assert article_id(variant, "another title") == base
    # an https URL already in canonical form hashes as it always did: existing ids do not change
    import hashlib

    assert base == hashlib.sha1(b"https://www.example-law.cn/hf/1.html").hexdigest()[:16]


# --- helpers -----------------------------------------------------------------------


def test_describe_is_json_like_and_bounded():
    assert describe(["拖欠", "工资"]) == 'a list ["拖欠", "工资"]'
    assert describe({"x": 1}) == 'an object {"x": 1}'
    assert describe(True) == "true/false (true)"
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert len(describe(deep)) < 40


def test_parse_tags_shapes():
    assert parse_tags("a, b，c、d; a") == ["a", "b", "c", "d"]
    assert parse_tags(["劳动", 2024]) == ["劳动", "2024"]
    for bad in (5, True, {"a": 1}, [["x"]], [None], [1.5]):
        with pytest.raises(ValueError):
            parse_tags(bad)


# --- the whole job: build on the bad folder ----------------------------------------


@pytest.mark.slow
def test_build_exits_0_and_every_good_article_is_searchable_by_its_title(
    corpus, loaded, tmp_path, embedder, tokenizer
):
    from index.build.pipeline import BuildOptions, build_index
    from index.search.searcher import Searcher

    idx = tmp_path / "idx"
    options = BuildOptions(progress=False, max_bytes=MAX_BYTES)
    report = build_index([str(corpus.folder)], idx, options, embedder, tokenizer)
    assert report.exit_code == 0, report.message
    assert report.articles_total == len(corpus.good_titles) == len(loaded.articles)
    on_disk = json.loads((idx / "report.json").read_text(encoding="utf-8"))
    assert len(on_disk["skipped"]) == len(loaded.skipped)
    assert {(s["source"], s["reason"], s["line"], s["kept"]) for s in on_disk["skipped"]} == {
        (s.source, s.reason, s.line, s.kept) for s in loaded.skipped
    }
    searcher = Searcher.open(idx, embedder=embedder, tokenizer=tokenizer)
    for a in loaded.articles:
        hits = searcher.search(a.title.replace("\ufffd", "").strip(), k=3)
        assert a.id in [h.article_id for h in hits], (a.title, [h.title for h in hits])
        for h in hits:
            assert not REPR.match(h.title) and (h.category is None or not REPR.match(h.category))
    status = searcher.search("root bash nologin 服务器密码文件", k=5)
    assert all("root:x:0:0" not in h.passage for h in status)
    # a second run with nothing changed publishes nothing new and still exits 0
    again = build_index([str(corpus.folder)], idx, options, embedder, tokenizer)
    assert again.exit_code == 0 and again.status == "unchanged", again.message


# --- issue 30: urls safe in an href, ids usable as a path segment, no bidi controls --------

XSS_URL = 'https://example.com/a?x="><script>alert(1)</script>'
SAFE_XSS_URL = "https://example.com/a?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _both_sources(tmp_path: Path, record: dict) -> list[Path]:
    """The same record as a JSONL line and as a Markdown file with front matter."""
    import yaml

    (tmp_path / "export.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    meta = {k: v for k, v in record.items() if k != "body"}
    front = yaml.safe_dump(meta, allow_unicode=True)
    (tmp_path / "case.md").write_text(f"---\n{front}---\n{record['body']}\n", encoding="utf-8")
    return [tmp_path / "export.jsonl", tmp_path / "case.md"]


@pytest.mark.parametrize("url,stored", [
    (XSS_URL, SAFE_XSS_URL),
    ("https://example.com/a\"b<c>?q='1'&r=`x`", "https://example.com/a%22b%3Cc%3E?q=%271%27&r=%60x%60"),
    ("https://example.com/p?a={b}|c^d\\e", "https://example.com/p?a=%7Bb%7D%7Cc%5Ed%5Ce"),
    ("https://example.com/p?x=\u202eabc", "https://example.com/p?x=%E2%80%AEabc"),
    ("https://x.cn/show.asp?12345&a=%22", "https://x.cn/show.asp?12345&a=%22"),  # escapes are kept as they are
    ('https://ex"ample.com/a', None),  # a host name never holds a quote or a bracket
    ("https://a.com\"><b>/x", None),
    ("https://a\u202e.com/x", None),
])
def test_url_characters_unsafe_in_an_href_are_percent_encoded(url, stored):
    assert canonical_url(url) == stored
    assert stored is None or not set(stored) & set("\"'<>`{}|\\^ ")


def test_a_front_matter_url_with_a_script_tag_is_stored_percent_encoded(tmp_path):
    record = {"id": "xss-url", "title": "楼上漏水怎么办", "body": body(6), "url": XSS_URL}
    for path in _both_sources(tmp_path, record):
        res = load(path)
        (a,) = res.articles
        assert a.url == SAFE_XSS_URL and not res.skipped, (path.name, res.skipped)
        assert a.id == "xss-url"
    (tmp_path / "export.jsonl").write_text(json.dumps({**record, "url": 'https://a.com"><b>/x'}) + "\n")
    res = load(tmp_path / "export.jsonl")
    (skip,) = res.skipped
    assert res.articles[0].url is None and "not an http(s) address" in skip.reason and skip.kept


@pytest.mark.parametrize("bad_id", [".", "..", " .. ", "\u202e.."])
def test_dot_ids_are_refused_with_a_reason(tmp_path, bad_id):
    for path in _both_sources(tmp_path, {"id": bad_id, "title": "点号编号", "body": body(7)}):
        res = load(path)
        assert res.articles == [], path.name
        (skip,) = res.skipped
        assert "cannot be an article's address" in skip.reason and not skip.kept, skip
        assert "give the article another id" in skip.reason


def test_a_markdown_file_whose_name_makes_a_dot_id_is_refused(tmp_path):
    # a folder walk never reads these (hidden files); named as the source, they are read
    (tmp_path / "...md").write_text(md(8), encoding="utf-8")  # id: its name without ".md", ".."
    (tmp_path / "..md").write_text(md(9), encoding="utf-8")  # id "."
    res = load_many([str(tmp_path / "...md"), str(tmp_path / "..md")])
    assert res.articles == []
    assert sorted(s.reason.split(" cannot")[0] for s in res.skipped) == ["id '.'", "id '..'"], res.skipped
    (tmp_path / "..md").write_text(md(9, extra="id: dots\n"), encoding="utf-8")  # an id of its own: fine
    assert [a.id for a in load(tmp_path / "..md").articles] == ["dots"]


@pytest.mark.parametrize("good_id", ["...", "a/..", "./a", ".a"])
def test_ids_that_only_contain_dots_are_kept(tmp_path, good_id):
    (a,) = load(_both_sources(tmp_path, {"id": good_id, "title": "点号编号", "body": body(7)})[0]).articles
    assert a.id == good_id


def test_bidi_controls_are_stripped_from_titles_ids_categories_and_tags(tmp_path):
    b = BIDI_CONTROLS
    record = {"id": f"lou{b}shui", "title": f"房屋漏水{b[4]}怎么办{b[5:9]}？", "body": body(11),
              "category": f"{b[9]}房产物业", "tags": [f"漏水{b[10]}", b, "相邻关系"]}
    for path in _both_sources(tmp_path, record):
        (a,) = load(path).articles
        assert (a.id, a.title, a.category, a.tags) == ("loushui", "房屋漏水怎么办？", "房产物业", ["漏水", "相邻关系"])
        for text in (a.id, a.title, a.category, *a.tags):
            assert not set(text) & set(b), (path.name, text)
    # a title taken from the body loses them too
    (tmp_path / "e.jsonl").write_text(json.dumps({"id": "t", "body": f"{b[4]}网贷逾期了怎么办？先别慌。"}) + "\n")
    (a,) = load(tmp_path / "e.jsonl").articles
    assert a.title == "网贷逾期了怎么办？"
