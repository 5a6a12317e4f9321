"""The JSON API as clients see it: a real `uvicorn` process on a free port, real HTTP (httpx).

Servers: the main one over a copy of the fixture index (public URL, CORS on, no
rate limit), a rate-limited one with LAWFAQ_RATE_LIMIT=5, and one started before
any index exists. A few in-process checks (TestClient) cover what a subprocess
cannot show: the question log hook and a 500 that leaks nothing.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.corpora import fixture_index_with
from tests.servers import free_port, running

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
QUESTION = "网贷逾期了，催收说要上门，是真的吗？"
PUBLIC_URL = "https://faq.example.com/"
ALLOWED_ORIGIN = "https://www.allowed-firm.example"
OTHER_ORIGIN = "https://evil.example"
START_TIMEOUT = 60.0
FIRST_SEARCH_TIMEOUT = 180.0  # the first hybrid search may wait for the warm-up to load the model
NEW_ARTICLE = """---
title: 邻居家的狗咬伤了人，谁来赔偿医药费？
category: 侵权责任
date: 2025-09-09
tags: [饲养动物, 狗咬伤]
---

遛狗不拴绳，狗把路人咬伤了，医药费、误工费、狂犬疫苗的钱应该由谁来出？

## 饲养人要承担责任

饲养的动物造成他人损害的，动物饲养人或者管理人应当承担侵权责任；但是能够证明损害是因被侵权人故意或者重大过失造成的，可以不承担或者减轻责任。
"""
OLD_LAW_ARTICLE = """---
title: 合同被认定无效，钱还能要回来吗？
category: 合同纠纷
date: 2019-06-18
tags: [合同无效, 返还财产]
---

签了合同才发现对方是借合法形式掩盖非法目的，这样的合同还算数吗？

## 哪些合同无效

根据《合同法》第五十二条，恶意串通损害国家、集体或者第三人利益，以合法形式掩盖非法目的，违反法律、行政法规的强制性规定的，合同无效。
"""


# ---------------------------------------------------------------- server -----
@contextmanager
def api_server(index: Path, log_path: Path, **env: str) -> Iterator[str]:
    """`uvicorn index.serving.api:create_app --factory` on a free port; yields its base URL once it listens."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAWFAQ_")
                or k in ("LAWFAQ_MODEL", "LAWFAQ_MODEL_NAME", "LAWFAQ_QUERY_PROMPT", "LAWFAQ_PASSAGE_PROMPT",
                         "LAWFAQ_CACHE")}
    full_env.update(LAWFAQ_INDEX=str(index), LAWFAQ_RATE_LIMIT="0", LAWFAQ_QUERY_LOG="off")
    full_env.update({f"LAWFAQ_{k.upper()}": v for k, v in env.items()})
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "index.serving.api:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    with running(cmd, full_env, log_path, url + "/healthz", START_TIMEOUT):
        yield url


def wait_healthy(url: str, timeout: float = START_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url + "/healthz", timeout=10)
        if r.status_code == 200:
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"never healthy: {r.status_code} {r.text}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def served_index(built_index, tmp_path_factory) -> Path:
    """A copy of the fixture index that this module may publish new versions into."""
    dst = tmp_path_factory.mktemp("api") / "idx"
    shutil.copytree(built_index, dst)
    return dst


@pytest.fixture(scope="module")
def server(served_index, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("api-log") / "uvicorn.log"
    with api_server(served_index, log, public_url=PUBLIC_URL, cors_origins=ALLOWED_ORIGIN) as url:
        wait_healthy(url)
        yield url


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=FIRST_SEARCH_TIMEOUT) as c:
        assert c.get("/search", params={"q": "预热"}).status_code == 200  # waits for the model once
        yield c


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    return body["error"]


# ---------------------------------------------------------------- search -----
def test_search_answers_with_absolute_links(client, server):
    r = client.get("/search", params={"q": QUESTION, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] and body["version"] and not body["weak"] and body["question_id"] is None  # no log
    hits = body["hits"]
    assert 1 <= len(hits) <= 3
    assert hits[0]["article_id"] in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    for h in hits:
        assert h["link"].startswith(PUBLIC_URL + "?article="), h["link"]  # the fixture articles have no url
        # LAWFAQ_PUBLIC_URL is set: the API's own links use its scheme and host, never the request's Host
        assert h["article_url"] == f"{PUBLIC_URL}articles/{h['article_id']}"
        assert h["passage"] and h["title"] and isinstance(h["statutes"], list)
        s, e = h["best_sentence"]
        assert 0 <= s <= e <= len(h["passage"])
    # the article link of a hit works (behind the public host's proxy: here, straight at the server)
    art = client.get(f"/articles/{hits[0]['article_id']}")
    assert art.status_code == 200 and art.json()["id"] == hits[0]["article_id"]


def test_search_lists_a_near_copy_under_the_hit_it_copies(client, server):
    hits = client.get("/search", params={"q": QUESTION, "k": 5}).json()["hits"]
    copies = [(h, c) for h in hits for c in h["also_in"]]
    assert copies, [h["article_id"] for h in hits]
    hit, copy = copies[0]
    assert {hit["article_id"], copy["article_id"]} == {"shangmen-cuishou", "shangmen-cuishou-bayue"}
    assert copy["link"].startswith(PUBLIC_URL + "?article=" + copy["article_id"] + "&passage=")
    assert copy["article_url"] == f"{PUBLIC_URL}articles/{copy['article_id']}"
    assert client.get(f"/articles/{copy['article_id']}").json()["id"] == copy["article_id"]


def test_search_gives_one_card_per_article_and_raw_passages_on_request(client):
    hits = client.get("/search", params={"q": QUESTION, "k": 5}).json()["hits"]
    assert len({h["article_id"] for h in hits}) == len(hits)
    more = [m for h in hits for m in h["more"]]
    assert more and all(m["link"].startswith(PUBLIC_URL + "?article=") for m in more)
    raw = client.get("/search", params={"q": QUESTION, "k": 5, "per_article": 3}).json()["hits"]
    assert len({h["article_id"] for h in raw}) < len(raw)
    bad = client.get("/search", params={"q": QUESTION, "per_article": 0})
    assert bad.status_code == 422 and "per_article" in bad.text  # as k: out of range is 422


def test_search_says_how_a_pinyin_question_was_read(client):
    typed = client.get("/search", params={"q": "cuishou shuo yao shangmen", "k": 3}).json()
    assert typed["query"] == "cuishou shuo yao shangmen" and "上门" in typed["read_as"]
    assert typed["hits"][0]["article_id"] in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    assert client.get("/search", params={"q": QUESTION, "k": 1}).json()["read_as"] is None


def test_search_filters_and_modes(client):
    cats = ["劳动纠纷", "婚姻家事"]
    r = client.get("/search", params=[("q", "离婚和辞退补偿"), ("k", "10"), *[("category", c) for c in cats]])
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and {h["category"] for h in hits} <= set(cats)

    r = client.get("/search", params={"q": QUESTION, "k": 10, "date_from": "2025-01-01", "date_to": "2025-06-30"})
    assert r.status_code == 200, r.text
    assert r.json()["hits"] and all("2025-01-01" <= h["published"] <= "2025-06-30" for h in r.json()["hits"])

    for mode in ("bm25", "dense", "hybrid"):
        r = client.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 1, "mode": mode})
        assert r.status_code == 200, (mode, r.text)
        assert [h["article_id"] for h in r.json()["hits"]] == ["cizhi-buchang"], mode

    r = client.get("/search", params={"q": "离婚", "category": "没有这个分类"})
    # issue 29 item 4: an unknown category is named (400), no longer 0 hits (was: 200, hits == [], weak)
    assert r.status_code == 400 and r.json()["detail"]["param"] == "category"


def test_article_endpoint(client):
    r = client.get("/articles/cizhi-buchang")
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["id"] == "cizhi-buchang" and a["title"] == "被公司辞退，能拿到多少经济补偿？"
    assert a["category"] == "劳动纠纷" and a["published"] == "2024-11-12" and "辞退" in a["tags"]
    assert a["page_url"] == PUBLIC_URL + "?article=cizhi-buchang"
    assert a["passages"]
    for p in a["passages"]:
        assert set(p) >= {"id", "start", "end", "heading", "statutes"}
        assert a["body"][p["start"] : p["end"]] == p["text"]
    assert any(p["statutes"] for p in a["passages"])
    assert a["repealed_statutes"] == []  # 劳动合同法 is in force


def test_status_categories_and_health(client):
    st = client.get("/status").json()
    assert st["articles"] == 6 and st["passages"] > 6 and st["version"] in st["versions"]
    assert st["categories"]["金融债务"] == 2
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert health.json()["version"] == st["version"]
    cats = client.get("/categories").json()["categories"]
    assert "劳动纠纷" in cats and cats == sorted(cats)


def test_docs_and_openapi(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/search", "/articles/{article_id}", "/status", "/healthz"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"SearchOut", "HitOut", "ArticleOut", "ErrorOut"} <= set(schemas)
    assert schemas["HitOut"]["properties"]["article_url"]["description"]
    params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["required"] and params["k"]["schema"]["maximum"] == 50


# ------------------------------------------------------------- bad input -----
BAD_INPUT = [
    ("/search", {}, 422, "q"),  # missing q
    ("/search", {"q": ""}, 400, "q"),
    ("/search", {"q": "   \t "}, 400, "q"),
    ("/search", {"q": "\x00\x01"}, 400, "q"),  # nothing printable
    ("/search", {"q": "离" * 201}, 400, "200"),
    ("/search", {"q": "离婚", "k": "0"}, 422, "k"),
    ("/search", {"q": "离婚", "k": "abc"}, 422, "k"),
    ("/search", {"q": "离婚", "k": "1000"}, 422, "k"),
    ("/search", {"q": "离婚", "k": "1e400"}, 422, "k"),
    ("/search", {"q": "离婚", "date_from": "2024-13-01"}, 400, "date_from"),
    ("/search", {"q": "离婚", "date_from": "yesterday"}, 400, "date_from"),
    ("/search", {"q": "离婚", "date_to": "2024/01/01"}, 400, "date_to"),
    ("/search", {"q": "离婚", "date_from": "2025-01-02", "date_to": "2025-01-01"}, 400, "date_from"),
    ("/search", {"q": "离婚", "mode": "fuzzy"}, 422, "mode"),
    ("/articles/no-such-article", {}, 404, "no-such-article"),
    ("/articles/%00%ff", {}, 404, "article"),
    ("/no/such/path", {}, 404, "/no/such/path"),
]


@pytest.mark.parametrize("path, params, status, named", BAD_INPUT,
                         ids=[f"{i}-{p}-{'&'.join(f'{k}={v[:8]}' for k, v in q.items())}"
                              for i, (p, q, _, _) in enumerate(BAD_INPUT)])
def test_bad_input_is_a_4xx_with_a_message(client, path, params, status, named):
    r = client.get(path, params=params)
    assert r.status_code == status, r.text
    assert named in error_of(r)


def test_q_of_exactly_200_characters_after_trimming_is_accepted(client):
    r = client.get("/search", params={"q": "  " + "离婚" * 100 + "  ", "k": 1, "mode": "bm25"})
    assert r.status_code == 200, r.text


def test_wrong_method_is_a_405_with_a_message(client):
    r = client.post("/search", params={"q": "离婚"})
    assert r.status_code == 405 and "POST" in error_of(r)


# ------------------------------------------------------------------ CORS -----
def test_cors_only_for_allowed_origins(client):
    ok = client.get("/search", params={"q": "离婚", "k": 1, "mode": "bm25"}, headers={"Origin": ALLOWED_ORIGIN})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = client.get("/search", params={"q": "离婚", "k": 1, "mode": "bm25"}, headers={"Origin": OTHER_ORIGIN})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    pre = client.options("/search", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    # errors carry the header too, so a browser client can read the message
    bad = client.get("/search", params={"q": ""}, headers={"Origin": ALLOWED_ORIGIN})
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_no_cors_headers_when_not_configured(tmp_path):
    with api_server(tmp_path / "none", tmp_path / "uvicorn.log") as url:
        r = httpx.get(url + "/openapi.json", headers={"Origin": ALLOWED_ORIGIN})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


# ------------------------------------------------------------ rate limit -----
def test_rate_limit_answers_429_with_retry_after(tmp_path):
    # no index needed: the limiter sits in front of every route but /healthz
    with api_server(tmp_path / "none", tmp_path / "uvicorn.log", rate_limit="5") as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        codes = [c.get("/openapi.json").status_code for _ in range(5)]
        assert codes == [200] * 5
        r = c.get("/search", params={"q": "离婚"})
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "too many requests" in error_of(r) and r.json()["detail"]["limit_per_minute"] == 5
        assert c.get("/healthz").status_code == 503  # exempt (and no index here)


# ------------------------------------------------- index lifecycle (live) ----
def test_starts_without_an_index_and_serves_once_one_appears(built_index, tmp_path):
    index = tmp_path / "late" / "idx"
    with api_server(index, tmp_path / "uvicorn.log") as url, httpx.Client(base_url=url, timeout=60) as c:
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["ok"] is False
        for path in ("/search?q=离婚", "/status", "/articles/cizhi-buchang"):
            r = c.get(path)
            assert r.status_code == 503, (path, r.text)
            msg = error_of(r)
            assert "build" in msg and str(index) in msg, msg  # says how to build one
        assert c.get("/search", params={"q": ""}).status_code == 400  # input is still checked first

        staging = tmp_path / "late" / "staging"
        shutil.copytree(built_index, staging)
        staging.rename(index)  # appears atomically
        wait_healthy(url, timeout=30)
        r = c.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 2, "mode": "bm25"})
        assert r.status_code == 200, r.text
        hit = r.json()["hits"][0]
        assert hit["article_id"] == "cizhi-buchang"
        # no LAWFAQ_PUBLIC_URL: internal links point at this server's own base URL
        assert hit["link"].startswith(f"{url}/?article=cizhi-buchang"), hit["link"]


def test_new_version_is_served_without_restart(client, served_index, copy_corpus, embedder, tokenizer):
    from index.build.pipeline import BuildOptions, build_index

    before = client.get("/status").json()
    (copy_corpus / "gou-yaoshang.md").write_text(NEW_ARTICLE, encoding="utf-8")
    report = build_index([str(copy_corpus)], served_index, BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message

    after = client.get("/status").json()
    assert after["version"] == report.version != before["version"]
    assert after["articles"] == before["articles"] + 1
    assert client.get("/healthz").json()["version"] == report.version
    r = client.get("/search", params={"q": "狗把人咬伤了医药费谁出", "k": 3})
    assert r.status_code == 200 and r.json()["version"] == report.version
    top = r.json()["hits"][0]
    assert top["title"] == "邻居家的狗咬伤了人，谁来赔偿医药费？", r.json()
    assert top["article_url"].startswith(PUBLIC_URL)
    art = client.get(f"/articles/{top['article_id']}")
    assert art.status_code == 200 and art.json()["category"] == "侵权责任"


# ------------------------------------------------------------- in-process ----
@pytest.fixture(scope="module")
def local_searcher(built_index, embedder, tokenizer):
    from index.search.searcher import Searcher

    return Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)


def local_client(searcher, query_log=None):
    from fastapi.testclient import TestClient

    from index.serving.api import create_app
    from index.settings import Settings

    app = create_app(lambda: searcher, Settings(rate_limit=0, query_log="off"), query_log=query_log, warm_up=False)
    return TestClient(app, raise_server_exceptions=False)


class RecordingLog:
    def __init__(self, fail: bool = False):
        self.calls: list[dict] = []
        self.fail = fail

    def record(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail:
            raise RuntimeError("log database is locked")
        return 42


def test_query_log_records_each_search_and_never_fails_it(local_searcher):
    log = RecordingLog()
    with local_client(local_searcher, log) as c:
        r = c.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 3, "mode": "bm25", "category": "劳动纠纷"})
    assert r.status_code == 200 and r.json()["question_id"] == 42
    (call,) = log.calls
    assert call["channel"] == "api" and call["query"] == "被公司开除了能拿多少钱"
    assert call["result_ids"][0] == "cizhi-buchang" and call["weak"] is False
    assert call["filters"]["category"] == ["劳动纠纷"] and call["filters"]["mode"] == "bm25"

    broken = RecordingLog(fail=True)
    with local_client(local_searcher, broken) as c:
        r = c.get("/search", params={"q": "离婚冷静期", "mode": "bm25"})
        assert c.get("/search", params={"q": ""}).status_code == 400
    assert r.status_code == 200 and r.json()["hits"] and r.json()["question_id"] is None
    assert len(broken.calls) == 1  # invalid input is not logged


def test_api_questions_reach_the_real_log_redacted(local_searcher, tmp_path):
    from index.firm.querylog import QueryLog

    log = QueryLog.open(tmp_path / "log.sqlite")
    with local_client(local_searcher, log) as c:
        r = c.get("/search", params={"q": "我的电话13812345678，被公司开除了能拿多少钱", "k": 3})
    assert r.status_code == 200 and r.json()["question_id"]
    log.flush()
    (row,) = log.questions()
    assert row.channel == "api" and row.id == r.json()["question_id"]
    assert "13812345678" not in row.query and "【手机号】" in row.query
    assert row.result_ids and row.result_ids[0] == r.json()["hits"][0]["article_id"]
    log.close()


@pytest.fixture(scope="module")
def old_law_searcher(tmp_path_factory, embedder, tokenizer):
    """The fixture corpus plus one article citing 《合同法》第五十二条 (repealed by 民法典)."""
    from index.search.searcher import Searcher

    index = fixture_index_with(tmp_path_factory.mktemp("old-law"), {"hetong-wuxiao.md": OLD_LAW_ARTICLE},
                               embedder, tokenizer)
    return Searcher.open(index, embedder=embedder, tokenizer=tokenizer)


def test_repealed_statutes_are_flagged_with_their_successors(old_law_searcher):
    with local_client(old_law_searcher) as c:
        art = c.get("/articles/hetong-wuxiao")
        r = c.get("/search", params={"q": "以合法形式掩盖非法目的的合同有效吗", "k": 5, "mode": "bm25"})
        fine = c.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 1, "mode": "bm25"})
    assert art.status_code == 200, art.text
    (old,) = art.json()["repealed_statutes"]
    assert old["statute"].startswith("合同法第52条") and old["status"].startswith("已废止")
    assert "民法典第153条" in old["now"]

    assert r.status_code == 200, r.text
    hit = next(h for h in r.json()["hits"] if h["article_id"] == "hetong-wuxiao")
    assert hit["repealed_statutes"] and all(x["status"] for x in hit["repealed_statutes"])
    assert any("民法典第153条" in x["now"] for x in hit["repealed_statutes"])
    assert {x["statute"] for x in hit["repealed_statutes"]} <= {*hit["statutes"], *hit["article_statutes"]}

    assert fine.status_code == 200 and fine.json()["hits"][0]["repealed_statutes"] == []


@pytest.mark.parametrize("params", [
    {"date_from": "2024-02-30"}, {"date_to": "20240101"}, {"date_from": "2025-01-02", "date_to": "2025-01-01"},
])
def test_api_refuses_exactly_what_the_searcher_refuses(local_searcher, params):
    """One validation (index.search.request.SearchRequest) behind the API and Searcher.search: same verdict, same words."""
    from index.search.request import InvalidQuery

    with pytest.raises(InvalidQuery) as err:
        local_searcher.search("离婚", **params)
    with local_client(local_searcher) as c:
        r = c.get("/search", params={"q": "离婚", **params})
    assert r.status_code == 400 and str(err.value) in error_of(r) and r.json()["detail"]["param"] == err.value.param


def test_categories_are_normalised_like_the_searchers(local_searcher):
    with local_client(local_searcher) as c:
        plain = c.get("/search", params={"q": "被公司开除了能拿多少钱", "category": "劳动纠纷", "mode": "bm25"})
        spaced = c.get("/search", params=[("q", "被公司开除了能拿多少钱"), ("category", " 劳动纠纷 "),
                                          ("category", " "), ("mode", "bm25")])
    assert plain.status_code == spaced.status_code == 200 and plain.json()["hits"]
    assert [h["passage_id"] for h in spaced.json()["hits"]] == [h["passage_id"] for h in plain.json()["hits"]]


def test_unexpected_error_is_a_500_without_a_traceback(local_searcher, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("secret-internal-detail /srv/lawfaq/var")

    monkeypatch.setattr(local_searcher, "search", boom)
    with local_client(local_searcher) as c:
        r = c.get("/search", params={"q": "离婚"})
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and "/srv" not in r.text
    assert error_of(r)
    assert any("secret-internal-detail" in str(rec.exc_info) for rec in caplog.records if rec.exc_info)


def test_rate_limiter_window_slides():
    from index.serving.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(3, window=60.0, clock=lambda: now[0])
    assert [limiter.hit("a")[0] for _ in range(3)] == [True] * 3
    allowed, retry_after, _ = limiter.hit("a")
    assert not allowed and retry_after == 60
    assert limiter.hit("b")[0]  # per client
    now[0] = 30.0
    assert limiter.hit("a") == (False, 30, 0)
    now[0] = 60.5  # the first three have left the window
    assert limiter.hit("a") == (True, 0, 2)


def test_two_worker_processes_answer_like_one(served_index, tmp_path):
    """`make api`'s launcher (`python -m index.serving.server ... --workers 2`): both processes serve the same answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAWFAQ_") or k == "LAWFAQ_CACHE"}
    env.update(LAWFAQ_INDEX=str(served_index), LAWFAQ_RATE_LIMIT="0", LAWFAQ_QUERY_LOG="off")
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "index.serving.server", "index.serving.api:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--workers", "2"]
    with api_server(served_index, tmp_path / "one.log") as one, \
            running(cmd, env, tmp_path / "two.log", url + "/healthz", START_TIMEOUT):
        wait_healthy(url)
        questions = ["借钱不还怎么办", "网贷逾期会上门吗", "离婚后孩子归谁", "公司拖欠工资", "交通事故赔偿"] * 2
        for q in questions:  # separate connections: the kernel spreads them over both workers
            a = httpx.get(one + "/search", params={"q": q, "k": 3}, timeout=60).json()
            b = httpx.get(url + "/search", params={"q": q, "k": 3}, timeout=60).json()
            assert [h["passage_id"] for h in a["hits"]] == [h["passage_id"] for h in b["hits"]], q


# ------------------------------------------- damaged files on disk (issue 30) -----
def _index_copy(built_index: Path, tmp_path: Path) -> Path:
    root = tmp_path / "idx"
    shutil.copytree(built_index, root)
    return root


def _garble(path: Path, offset: int = 0, n: int = 100) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * (n // 4))


def _new_version_like(root: Path, suffix: str) -> Path:
    """A copy of the serving version under a newer name (published by switching CURRENT to it)."""
    from index.storage.layout import IndexDir

    old = IndexDir(root).current_name()
    new = root / "versions" / (old + suffix)
    shutil.copytree(root / "versions" / old, new)
    return new


def factory_client(factory, query_log=None):
    from fastapi.testclient import TestClient

    from index.serving.api import create_app
    from index.settings import Settings

    app = create_app(factory, Settings(rate_limit=0, query_log="off"), query_log=query_log, warm_up=False)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("damage", ["garbled", "truncated", "faiss"])
def test_a_damaged_new_meta_sqlite_keeps_the_old_version_serving(built_index, tmp_path, embedder, tokenizer, damage):
    """As a damaged FAISS file already did: the old version keeps serving, `refresh_error` says why,
    and a rollback to the version being served clears it."""
    from index.search.searcher import Searcher
    from index.storage.layout import IndexDir

    root = _index_copy(built_index, tmp_path)
    layout = IndexDir(root)
    old = layout.current_name()
    searcher = Searcher.open(root, embedder=embedder, tokenizer=tokenizer)
    with local_client(searcher) as c:
        new = _new_version_like(root, "b")
        if damage == "garbled":
            _garble(new / "meta.sqlite")
        elif damage == "truncated":
            os.truncate(new / "meta.sqlite", (new / "meta.sqlite").stat().st_size // 2)
        else:
            from index.backends.local import DENSE_FILE

            _garble(new / DENSE_FILE)
        layout.switch(new.name)
        h = c.get("/healthz")
        assert h.status_code == 200 and h.json() == {"ok": True, "version": old, "error": None}
        s = c.get("/status")
        assert s.status_code == 200 and s.json()["version"] == old
        assert new.name in s.json()["refresh_error"]
        assert damage == "faiss" or "meta.sqlite" in s.json()["refresh_error"]
        r = c.get("/search", params={"q": "被公司开除了能拿多少钱", "mode": "bm25"})
        assert r.status_code == 200 and r.json()["version"] == old and r.json()["hits"]
        assert c.get("/articles/cizhi-buchang").status_code == 200
        assert c.get("/categories").status_code == 200

        layout.rollback()  # back to the version being served: the old error is no longer news
        s = c.get("/status")
        assert layout.current_name() == old and s.json()["version"] == old and s.json()["refresh_error"] is None


def test_a_fresh_start_on_a_damaged_current_version_is_the_documented_503(built_index, tmp_path, embedder, tokenizer):
    from index.search.searcher import Searcher
    from index.storage.layout import IndexDir

    root = _index_copy(built_index, tmp_path)
    meta = IndexDir(root).current() / "meta.sqlite"
    _garble(meta)
    with factory_client(lambda: Searcher.open(root, embedder=embedder, tokenizer=tokenizer)) as c:
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["ok"] is False and str(meta) in h.json()["error"]
        for path in ("/search?q=离婚", "/status", "/articles/cizhi-buchang", "/categories"):
            r = c.get(path)
            assert r.status_code == 503, (path, r.text)
            assert "meta.sqlite" in error_of(r) and "rollback" in error_of(r)


@pytest.mark.parametrize("damage", ["truncated", "garbled-pages"])
def test_a_served_meta_sqlite_damaged_under_a_search_is_503_and_unhealthy(built_index, tmp_path, embedder,
                                                                          tokenizer, damage):
    """Truncated (its header says how long it should be) or garbled inside (only a read finds it)."""
    from index.search.searcher import Searcher
    from index.storage.layout import IndexDir

    root = _index_copy(built_index, tmp_path)
    layout = IndexDir(root)
    meta = layout.current() / "meta.sqlite"
    searcher = Searcher.open(root, embedder=embedder, tokenizer=tokenizer)
    with local_client(searcher) as c:
        assert c.get("/search", params={"q": "离婚冷静期", "mode": "bm25"}).status_code == 200
        if damage == "truncated":
            os.truncate(meta, 8192)
        else:
            size = meta.stat().st_size
            _garble(meta, offset=4096, n=size - 4096)  # every page but the first (the header stays whole)
            _garble(meta, offset=24, n=4)  # and the change counter: SQLite drops its cached pages
        r = c.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 3})
        assert r.status_code == 503, r.text
        assert "meta.sqlite" in error_of(r) or "cannot be read" in error_of(r)
        assert r.headers.get("retry-after")
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["ok"] is False and h.json()["version"] == layout.current_name()
        assert c.get("/status").status_code == 503

        fixed = root / "versions" / (layout.current_name() + "c")  # a sound copy, published under a new name
        shutil.copytree(built_index / "versions" / layout.current_name(), fixed)
        layout.switch(fixed.name)
        h = c.get("/healthz")
        assert h.status_code == 200 and h.json() == {"ok": True, "version": fixed.name, "error": None}
        assert c.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 3}).status_code == 200


def test_a_damaged_question_log_never_fails_a_search(local_searcher, tmp_path):
    from index.firm.querylog import QueryLog

    path = tmp_path / "query_log.sqlite"
    path.write_bytes(b"\xde\xad\xbe\xef" * 2000)  # not a database
    log = QueryLog.open(path)
    try:
        with local_client(local_searcher, log) as c:
            for q in ("被公司开除了能拿多少钱", "离婚冷静期多少天"):
                r = c.get("/search", params={"q": q, "k": 3, "mode": "bm25"})
                assert r.status_code == 200 and r.json()["hits"], r.text
            assert c.get("/healthz").status_code == 200
        log.flush()
        assert log.stats.written == 0 and log.stats.failed >= 1  # dropped, counted, not raised
    finally:
        log.close()


def test_unknown_category_is_a_400_naming_category(local_searcher):
    """Issue 29 item 4: not 0 hits with "没有找到相关内容", but a 400 that names the filter."""
    with local_client(local_searcher) as c:
        r = c.get("/search", params=[("q", "离婚"), ("category", "劳动纠纷"), ("category", "没有这个分类")])
        ok = c.get("/search", params={"q": "离婚", "category": " 劳动纠纷 "})
    assert r.status_code == 400 and r.json()["detail"]["param"] == "category", r.text
    assert "没有这个分类" in error_of(r) and "劳动纠纷" in error_of(r)
    assert ok.status_code == 200, ok.text


# ------------------------------------------------- links open by default -----
SOURCE_ARTICLE = """---
title: 租房押金房东不退怎么办？
category: 合同纠纷
date: 2025-03-03
url: {url}
---

退租时房东以各种理由扣押金，租客该怎么办？

## 先协商，再起诉

房东无正当理由不退押金的，租客可以先协商，协商不成可以向法院提起诉讼，押金数额不大时可以走小额诉讼程序。
"""


@contextmanager
def source_site() -> Iterator[str]:
    """The firm's own website, for the one article that has a `url`: a real HTTP server on 127.0.0.1."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            found = self.path.split("?")[0] == "/faq/yajin.html"
            body = "<html><body>租房押金</body></html>".encode() if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/faq/yajin.html"
    finally:
        httpd.shutdown()


def _links(hit: dict) -> list[str]:
    found = [hit["link"], hit["article_url"]]
    found += [x for c in hit.get("also_in", []) for x in (c["link"], c["article_url"])]
    found += [m["link"] for m in hit.get("more", [])]
    return found


def test_every_link_opens_without_a_public_url(tmp_path, embedder, tokenizer):
    """No LAWFAQ_PUBLIC_URL: each link a client gets answers 200 — the article's own page when it has a
    url, else the API's own article view (HTML, the passage marked), and the API's JSON article."""
    with source_site() as site:
        index = fixture_index_with(tmp_path, {"yajin.md": SOURCE_ARTICLE.format(url=site)}, embedder, tokenizer)
        with api_server(index, tmp_path / "uvicorn.log") as url, \
                httpx.Client(base_url=url, timeout=FIRST_SEARCH_TIMEOUT) as c:
            links: set[str] = set()
            for q in (QUESTION, "房东不退押金怎么办", "被公司开除了能拿多少钱", "离婚冷静期多久"):
                r = c.get("/search", params={"q": q, "k": 5})
                assert r.status_code == 200, r.text
                links.update(x for h in r.json()["hits"] for x in _links(h))
            assert any(x.startswith(site + "#:~:text=") for x in links)  # the article's own page
            assert any(x.startswith(url + "/?article=") for x in links)  # our article view, on this API
            for link in sorted(links):
                opened = httpx.get(link, timeout=30)
                assert opened.status_code == 200, (link, opened.status_code)
            view = c.get("/", params={"article": "cizhi-buchang", "passage": "nope"})
            assert view.status_code == 200 and "text/html" in view.headers["content-type"]
            assert "<h2" in view.text and "lf-body" in view.text
            assert c.get("/", params={"article": "no-such-article"}).status_code == 404
            assert "/docs" in c.get("/").text


def test_api_passages_are_plain_text_with_the_markdown_beside(client):
    r = client.get("/search", params={"q": "被公司辞退能拿多少补偿", "k": 5, "per_article": 3})
    hits = r.json()["hits"]
    assert any("#" in h["passage_markdown"] or "**" in h["passage_markdown"] for h in hits)
    for h in hits:
        assert not any(line.lstrip().startswith("#") for line in h["passage"].splitlines())
        assert "**" not in h["passage"]
        assert h["match_spans"]
        for a, b in h["match_spans"]:  # the spans moved with the text: each marks a word of the question
            assert b > a and h["passage"][a:b] in h["passage_markdown"], (h["passage"], a, b)
        s, e = h["best_sentence"]
        assert 0 <= s < e <= len(h["passage"])
