"""Issue 30 (items 1, 4, 5, part of 6): what the API writes to its log, and the links it hands out.

1. The server's own log never keeps a question: uvicorn's access line drops `q`
   and redacts the rest; every other line (ours, uvicorn's, a library's, Python
   warnings, tracebacks) goes through `index.firm.redact`.
4. A source URL with quotes or angle brackets never reaches a client raw.
5. With LAWFAQ_PUBLIC_URL set, no link is built from the request's Host header.
6. One malformed chunked request is one warning line, without a traceback.

The servers are real processes started the way `make api` starts them
(`python -m index.serving.server ...`, uvicorn's default log level, so the
access log is on), and their captured stdout/stderr is searched afterwards.
"""
from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.corpora import fixture_index_with
from tests.servers import ROOT, free_port, running

PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
WIDE_PHONE = "１３９１２３４５６７８"  # full-width digits: redact reads them too
QUESTIONS = [
    f"我手机{PHONE}身份证{ID_NUMBER}，被公司辞退能拿多少补偿",
    f"网贷逾期了，催收打我电话{PHONE}说要上门",
    f"我的手机号是{WIDE_PHONE}，离婚冷静期是多久",
]
# What must never be in a log, in any of the forms a line could hold it.
SECRETS = (PHONE, ID_NUMBER, ID_NUMBER[:-1], WIDE_PHONE, quote(WIDE_PHONE), "1391234", "%31%33%39")
PUBLIC_URL = "https://faq.example.com/"
EVIL_HOST = "evil.example"
XSS_URL = 'https://example.com/a?x="><script>alert(1)</script>'
BIDI = "\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
XSS_URL_ARTICLE = f"""---
title: 房屋漏水{BIDI[0]}楼上邻居拒不维修怎么办？
category: 房产物业
date: 2025-08-08
url: '{XSS_URL}'
---

楼上卫生间漏水，把我家天花板泡坏了，楼上邻居一直拖着不修，我能怎么办？

## 先固定证据再协商

拍照录像保存漏水的痕迹，请物业出具漏水情况说明，再和楼上邻居协商维修和赔偿。

## 协商不成可以起诉

不动产的相邻权利人应当按照有利生产、方便生活、团结互助、公平合理的原则，正确处理相邻关系。造成损害的，应当承担赔偿责任。
"""
START_TIMEOUT = 90.0
FIRST_SEARCH_TIMEOUT = 180.0


# ---------------------------------------------------------------- servers ----
def _env(index: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAWFAQ_")
           or k in ("LAWFAQ_MODEL", "LAWFAQ_MODEL_NAME", "LAWFAQ_QUERY_PROMPT", "LAWFAQ_PASSAGE_PROMPT",
                    "LAWFAQ_CACHE")}
    env.update(LAWFAQ_INDEX=str(index), LAWFAQ_RATE_LIMIT="0", LAWFAQ_QUERY_LOG="off")
    env.update({f"LAWFAQ_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def make_api(index: Path, log_path: Path, *options: str, launcher: str = "index.serving.server",
             **settings: str) -> Iterator[str]:
    """The API as `make api` and the systemd unit start it (no --log-level: the access log is on)."""
    port = free_port()
    cmd = [sys.executable, "-m", launcher, "index.serving.api:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), *options]
    url = f"http://127.0.0.1:{port}"
    with running(cmd, _env(index, **settings), log_path, url + "/healthz", START_TIMEOUT):
        yield url


def assert_no_secret(log: str) -> None:
    for secret in SECRETS:
        assert secret not in log, f"{secret!r} is in the server log:\n{log}"


def ask_personal_questions(url: str, timeout: float = 30) -> None:
    """Questions with a phone and an ID number in every place a request can carry them."""
    with httpx.Client(base_url=url, timeout=timeout) as c:
        for q in QUESTIONS:
            c.get("/search", params={"q": q, "k": 2})
            c.get("/search", params={"q": q, "k": "abc"})  # 422
            c.get("/search", params={"q": q, "date_from": "yesterday"})  # 400
            c.post("/search", params={"q": q})  # 405
        c.get("/search", params={"q": "离婚", "category": f"电话{PHONE}"})
        c.get(f"/articles/{PHONE}")  # 404 (or 503): the id is written in the path
        c.get(f"/no/such/{ID_NUMBER}", params={"q": QUESTIONS[0]})
        c.get("/search", params={"question": QUESTIONS[1]})  # 422: not our parameter, redacted anyway


# ------------------------------------------------------- item 1: the log ----
@pytest.mark.slow
def test_server_log_holds_no_question_text_with_two_workers(tmp_path):
    """The worker processes (spawned, so they get the log config by pickle) redact their access lines."""
    log = tmp_path / "api.log"
    with make_api(tmp_path / "no-index", log, "--workers", "2") as url:
        ask_personal_questions(url)
        time.sleep(0.5)
    text = log.read_text(encoding="utf-8")
    assert_no_secret(text)
    # the access log is on and still says what was asked for, less the question
    assert '"GET /search?q=[omitted]&k=2 HTTP/1.1" 503' in text, text
    assert '"POST /search?q=[omitted] HTTP/1.1" 405' in text, text
    assert "/articles/" + quote("【手机号】") in text, text
    assert "category=" + quote("电话【手机号】") in text, text


@pytest.mark.slow
def test_plain_uvicorn_redacts_its_access_log_too(tmp_path):
    """`uvicorn index.serving.api:create_app --factory` (the docstring's first way): the app factory
    puts the same filters on uvicorn's loggers."""
    log = tmp_path / "api.log"
    with make_api(tmp_path / "no-index", log, launcher="uvicorn") as url:
        ask_personal_questions(url)
        time.sleep(0.5)
    text = log.read_text(encoding="utf-8")
    assert_no_secret(text)
    assert '"GET /search?q=[omitted]&k=2 HTTP/1.1" 503' in text, text


def test_every_line_of_the_log_config_is_redacted(tmp_path):
    """The log config `python -m index.serving.server` gives uvicorn, in a process of its own: our
    loggers' errors with tracebacks, uvicorn's errors, a library's warning, Python warnings."""
    script = f"""
import logging, logging.config, warnings
from index.serving.server import log_config
logging.config.dictConfig(log_config())
phone, number = {PHONE!r}, {ID_NUMBER!r}
try:
    raise KeyError("the question " + phone)
except KeyError:
    logging.getLogger("index.serving.routes").exception("query log failed for %s", "身份证" + number)
logging.getLogger("uvicorn.error").error("odd request from %s", phone)
logging.getLogger("some.library").warning("cannot parse %s", "我的手机" + phone)
warnings.warn("a Python warning about " + phone)
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                         "/search?q=" + phone + "&k=3", "1.1", 200)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    assert_no_secret(text)
    for kept in ("query log failed for 身份证【身份证号】", "KeyError: 'the question 【手机号】'", "Traceback",
                 "odd request from 【手机号】", "cannot parse 我的手机【手机号】", "a Python warning about 【手机号】",
                 '"GET /search?q=[omitted]&k=3 HTTP/1.1" 200'):
        assert kept in text, (kept, text)


@pytest.mark.parametrize("target, logged", [
    ("/search?q=%E6%88%91" + PHONE + "&k=3", "/search?q=[omitted]&k=3"),
    ("/search?k=3&q=a&q=b&%71=c", "/search?k=3&q=[omitted]&q=[omitted]&%71=[omitted]"),
    ("/search?q", "/search?q=[omitted]"),
    ("/articles/ld-beicitui-buchang-n-2n", "/articles/ld-beicitui-buchang-n-2n"),
    ("/articles/" + PHONE, "/articles/" + quote("【手机号】")),
    ("/search?category=%E5%8A%B3%E5%8A%A8&mode=bm25", "/search?category=%E5%8A%B3%E5%8A%A8&mode=bm25"),
    ("/x?note=" + quote("我的身份证" + ID_NUMBER), "/x?note=" + quote("我的身份证【身份证号】")),
    ("/x?note=" + quote(WIDE_PHONE), "/x?note=" + quote("【手机号】")),
])
def test_redact_target(target, logged):
    from index.serving.server import redact_target

    assert redact_target(target) == logged
    assert redact_target(logged) == logged  # a second filter changes nothing


def test_filters_keep_uvicorns_formatters_working():
    """uvicorn's coloured formatter re-reads `color_message` and the access formatter its five args."""
    from uvicorn.logging import AccessFormatter, DefaultFormatter

    from index.serving.server import AccessLogFilter, RedactingFilter

    out = io.StringIO()
    logger = logging.Logger("hardening-test")  # not registered: nothing global changes
    handler = logging.StreamHandler(out)
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=True))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.warning("asked %s", PHONE, extra={"color_message": "asked \x1b[1m%s\x1b[0m"})
    access = logging.StreamHandler(out)
    access.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    access.addFilter(AccessLogFilter())
    logger.removeHandler(handler)
    logger.addHandler(access)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/search?q={PHONE}", "1.1", 200)
    text = out.getvalue()
    assert_no_secret(text)
    assert "asked 【手机号】" in text and '"GET /search?q=[omitted] HTTP/1.1" 200' in text, text


# --------------------------------------------- item 6: malformed requests ----
def _raw(port: int, head: str, first: bytes, later: bytes = b"", pause: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode("ascii") + b"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n" + first)
        if later:
            time.sleep(pause)
            try:
                s.sendall(later)
            except OSError:
                pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
        return out


@pytest.mark.slow
def test_a_broken_chunked_body_is_one_warning_line(tmp_path):
    log = tmp_path / "api.log"
    with make_api(tmp_path / "no-index", log) as url:
        port = int(url.rsplit(":", 1)[1])
        answers = [
            # the broken chunk arrives with the request, while the app answers it (405 here)
            _raw(port, "POST /search?q=x HTTP/1.1\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),
            _raw(port, "GET /openapi.json HTTP/1.1\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),
            # ... or after the app has answered
            _raw(port, "GET /openapi.json HTTP/1.1\r\n", b"5\r\nhello\r\n", b"zz\r\nabc\r\n0\r\n\r\n", 0.5),
            _raw(port, "POST /search?q=x HTTP/1.1\r\n", b"5\r\nhello\r\n", b"zz\r\nabc\r\n0\r\n\r\n", 0.5),
        ]
        time.sleep(0.5)
        assert httpx.get(url + "/openapi.json", timeout=10).status_code == 200  # the server is fine
    text = log.read_text(encoding="utf-8")
    assert all(a.startswith(b"HTTP/1.1 ") for a in answers), answers
    assert text.count("Invalid HTTP request received.") == len(answers), text
    assert "Traceback" not in text and "ERROR" not in text, text
    warnings = [line for line in text.splitlines() if line.startswith("WARNING")]
    assert all("Invalid HTTP request" in w or "cannot open the index" in w for w in warnings), warnings


# ------------------------------------------ items 4, 5: links, real index ----
@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, embedder, tokenizer) -> Path:
    """The fixture corpus plus an article whose front-matter url holds `">` and a <script> tag."""
    return fixture_index_with(tmp_path_factory.mktemp("hostile"), {"loushang-loushui.md": XSS_URL_ARTICLE},
                              embedder, tokenizer)


@pytest.fixture(scope="module")
def public_api(hostile_index, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("hostile-log") / "api.log"
    query_log = tmp_path_factory.mktemp("hostile-qlog") / "questions.sqlite"
    with make_api(hostile_index, log, public_url=PUBLIC_URL, query_log=str(query_log)) as url:
        with httpx.Client(base_url=url, timeout=FIRST_SEARCH_TIMEOUT) as c:
            assert c.get("/search", params={"q": "预热"}).status_code == 200  # waits for the model once
        yield url, log


def links_of(body: dict) -> list[str]:
    out = []
    for hit in body["hits"]:
        out += [hit["link"], hit["article_url"], *(hit["url"] and [hit["url"]] or [])]
        out += [x for c in hit["also_in"] for x in (c["link"], c["article_url"])]
        out += [m["link"] for m in hit["more"]]
    return out


@pytest.mark.slow
def test_a_forged_host_never_writes_a_link_when_the_public_url_is_set(public_api):
    url, _log = public_api
    with httpx.Client(base_url=url, timeout=60, headers={"Host": EVIL_HOST}) as c:
        body = c.get("/search", params={"q": "网贷逾期了，催收说要上门，是真的吗？", "k": 5}).json()
        article = c.get("/articles/cizhi-buchang").json()
    hits = body["hits"]
    assert any(h["also_in"] for h in hits) and any(h["more"] for h in hits), hits  # every kind is checked
    for link in [*links_of(body), article["page_url"]]:
        assert EVIL_HOST not in link, link
    for h in hits:
        assert h["article_url"] == f"https://faq.example.com/articles/{quote(h['article_id'], safe='')}"
        assert h["link"].startswith(PUBLIC_URL + "?article=")  # the fixture articles have no url
    assert article["page_url"] == PUBLIC_URL + "?article=cizhi-buchang"


@pytest.mark.slow
def test_a_url_with_quotes_and_tags_never_reaches_a_client_raw(public_api):
    url, _log = public_api
    with httpx.Client(base_url=url, timeout=60) as c:
        body = c.get("/search", params={"q": "楼上漏水邻居不维修怎么办", "k": 3}).json()
        hit = next(h for h in body["hits"] if h["title"].startswith("房屋漏水"))
        article = c.get("/articles/loushang-loushui").json()
    assert hit["url"] == article["url"] == "https://example.com/a?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
    assert hit["link"].startswith(hit["url"] + "#:~:text="), hit["link"]
    for text in (hit["url"], hit["link"], article["url"], article["page_url"]):
        assert not set(text) & set("\"'<> "), text
    # ingest took the bidi override out of the title (part of item 6)
    assert hit["title"] == article["title"] == "房屋漏水楼上邻居拒不维修怎么办？"


@pytest.mark.slow
def test_real_searches_leave_no_question_in_the_log(public_api):
    url, log = public_api
    with httpx.Client(base_url=url, timeout=60) as c:
        for q in QUESTIONS:
            r = c.get("/search", params={"q": q, "k": 3})
            assert r.status_code == 200 and r.json()["hits"], r.text
    ask_personal_questions(url)
    time.sleep(0.5)
    text = log.read_text(encoding="utf-8")
    assert_no_secret(text)
    assert '"GET /search?q=[omitted]&k=3 HTTP/1.1" 200' in text, text


# ------------------------------------------- item 4, 5: links, in process ----
def test_link_for_encodes_what_an_old_index_stored_raw():
    from index.search.hits import link_for, source_link

    link = link_for(XSS_URL, "a", "a#1", "楼上邻居一直拖着不修我能怎么办", "https://faq.example.com/")
    assert link.startswith("https://example.com/a?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E#:~:text=")
    assert not set(link) & set("\"'<> ")
    assert source_link("https://example.com/p'a\"th<x>?a=`b`&c={d}|e^f\u202eg") == (
        "https://example.com/p%27a%22th%3Cx%3E?a=%60b%60&c=%7Bd%7D%7Ce%5Ef%E2%80%AEg")
    # a host holding a quote or a bracket is no address: the card opens our article view
    assert link_for('https://a.com"><b>/x', "a", "a#1", "s", "https://faq.example.com/") == (
        "https://faq.example.com/?article=a&passage=a%231")
    assert source_link("javascript:alert(1)") is None and source_link(None) is None
    assert source_link("https://example.com/show.asp?1234") == "https://example.com/show.asp?1234"


def _request(host: str, root_path: str = ""):
    from starlette.requests import Request

    return Request({"type": "http", "method": "GET", "scheme": "http", "server": ("127.0.0.1", 8000),
                    "path": root_path + "/search", "root_path": root_path, "query_string": b"",
                    "headers": [(b"host", host.encode("latin-1"))]})


def _hit(article_id: str = "a/b c") -> dict:
    return {"article_id": article_id, "link": "?article=x&passage=y", "url": XSS_URL, "statutes": [],
            "article_statutes": [], "also_in": [{"article_id": "c", "link": "?article=c"}],
            "more": [{"link": "?article=x&passage=z"}]}


@pytest.mark.parametrize("public_url, root_path, host, api", [
    (PUBLIC_URL, "", EVIL_HOST, "https://faq.example.com"),
    (PUBLIC_URL, "/api", EVIL_HOST, "https://faq.example.com/api"),  # uvicorn --root-path /api behind a proxy
    ("https://firm.example/faq/", "/faq-api", EVIL_HOST, "https://firm.example/faq-api"),
    ("", "", "api.firm.example:8000", "http://api.firm.example:8000"),  # not set: this server's own URL
    ("", "", 'evil"><script>', "http://127.0.0.1:8000"),  # ... unless the Host is no host name
])
def test_finish_hits_bases_every_link_on_the_public_url(public_url, root_path, host, api):
    from index.serving.answers import finish_hits
    from index.settings import Settings

    hits = [_hit()]
    finish_hits(hits, _request(host, root_path), Settings(public_url=public_url))
    (hit,) = hits
    page = public_url or api + "/"
    assert hit["article_url"] == f"{api}/articles/a%2Fb%20c"
    assert hit["also_in"][0]["article_url"] == f"{api}/articles/c"
    assert hit["link"] == page + "?article=x&passage=y" and hit["more"][0]["link"] == page + "?article=x&passage=z"
    assert hit["also_in"][0]["link"] == page + "?article=c"
    assert hit["url"] == "https://example.com/a?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
    if public_url:
        assert EVIL_HOST not in str(hit)
