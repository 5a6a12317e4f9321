"""ingest.sources.web against a real HTTP server on 127.0.0.1 (no mocks).

The server serves a dict of path -> Route, answers conditional requests
(ETag / If-None-Match, Last-Modified / If-Modified-Since) with 304, counts
requests per path, records request headers and the peak number of requests
in flight.
"""
from __future__ import annotations

import gzip
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest.sources.web import FetchConfig, load_web, load_web_with_stats, parse_sitemap

UA = "LawFAQ-Test/9.9 (+tests; contact: nobody)"
# The test server listens on 127.0.0.1, which the web source refuses unless allow_private is set
# (test_loopback_is_refused_by_default checks the refusal itself).
FAST = FetchConfig(user_agent=UA, backoff=0.01, timeout=5.0, retries=3, allow_private=True)


# --- the server ---------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    fail_first: list[int] = field(default_factory=list)  # statuses served before the real answer
    delay: float = 0.0
    content_length: bool = True  # False: no Content-Length, body streamed then connection closed


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.counts: Counter[str] = Counter()
        self.statuses: list[tuple[str, int]] = []
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def served(self, path: str, status: int) -> int:
        return sum(1 for p, s in self.statuses if p == path and s == status)

    def request_headers(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.headers if p == path]

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.statuses.clear()
            self.headers.clear()


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            path = self.path
            with site.lock:
                site.counts[path] += 1
                n = site.counts[path]
                site.headers.append((path, {k.lower(): v for k, v in self.headers.items()}))
                site.in_flight += 1
                site.max_in_flight = max(site.max_in_flight, site.in_flight)
            try:
                self._answer(path, n)
            finally:
                with site.lock:
                    site.in_flight -= 1

        def _send(self, path, status, headers, body, content_length=True):
            with site.lock:
                site.statuses.append((path, status))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if content_length:
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (too large): expected

        def _answer(self, path, n):
            route = site.routes.get(path)
            if route is None:
                self._send(path, 404, {"Content-Type": "text/plain"}, b"not found")
                return
            if route.delay:
                time.sleep(route.delay)
            if n <= len(route.fail_first):
                self._send(path, route.fail_first[n - 1], {"Content-Type": "text/plain"}, b"try again")
                return
            etag = route.headers.get("ETag")
            last_modified = route.headers.get("Last-Modified")
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (etag and inm == etag) or (not inm and last_modified and ims == last_modified):
                keep = {k: v for k, v in route.headers.items() if k in ("ETag", "Last-Modified")}
                self._send(path, 304, keep, b"")
                return
            self._send(path, route.status, route.headers, route.body, route.content_length)

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the client closing a kept-alive connection (or hanging up on a huge body) is normal here
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def site():
    s = Site()
    server = QuietServer(("127.0.0.1", 0), _handler(s))
    s.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield s
    server.shutdown()
    server.server_close()


# --- invented firm pages --------------------------------------------------------


def page_html(title: str, category: str, num: int, charset: str = "utf-8", paras: int = 3) -> str:
    """A firm page: nav, breadcrumb, title, body (heading + list + 相关法条参考), site tail, teasers."""
    body = "".join(
        f"<p>第{i}段:{title}这个问题,要先看合同怎么约定,再看法律怎么规定,证据要提前保存好,协商不成可以申请仲裁或者起诉。</p>"
        for i in range(1, paras + 1)
    )
    return f"""<!DOCTYPE html><html><head><meta charset="{charset}">
<title>{title} - 示例律师事务所</title>
<link rel="canonical" href="https://www.example-law.cn/hf/{num}.html">
<meta name="pubdate" content="2024-0{num % 9 + 1}-1{num % 10}">
<script>var tracker = "统计脚本";</script><style>.x {{ color: red }}</style></head><body>
<div class="nav"><a href="/">网站首页</a> <a href="/ld/">劳动纠纷</a> <a href="/jr/">金融债务</a></div>
<div class="position">当前位置:<a href="/">首页</a>&gt;<a href="/c/">{category}</a>&gt; 正文内容</div>
<div class="article"><h1>{title}</h1>
<div class="content">{body}
<h2>需要准备的材料</h2>
<ol><li>身份证明和合同原件;</li><li>往来转账记录和聊天截图;</li><li>对方的联系方式和住址。</li></ol>
<h3>相关法条参考</h3>
<ul><li>《中华人民共和国民法典》第577条:当事人一方不履行合同义务的,应当承担违约责任。</li>
<li>《中华人民共和国劳动合同法》第30条:用人单位应当按照劳动合同约定向劳动者及时足额支付劳动报酬。</li></ul>
<p>{title},本文为示例律师原创,未经授权禁止转载,个案情况不同,建议咨询专业律师制定方案。</p>
</div>
<p>扫描二维码推送至手机访问。</p>
<p>版权声明：本文由示例律师事务所原创并发布,如需转载请附上来源链接。</p>
<p>本文链接:https://www.example-law.cn/hf/{num}.html</p>
<div class="rel"><h3>{title}的相关文章</h3><ul>
<li><a href="/hf/901.html">房东不退押金怎么办?三招教你要回来</a><p>租房到期房东找各种理由扣押金...</p></li>
<li><a href="/hf/902.html">工伤认定需要多长时间?</a><p>工伤认定申请受理后一般六十日内作出决定...</p></li>
</ul></div></div>
<div class="footer">版权所有 示例律师事务所</div></body></html>"""


ARTICLES = {
    "/hf/1.html": ("公司拖欠工资三个月怎么办?", "劳动纠纷", 1),
    "/hf/2.html": ("朋友借钱不还能起诉吗?", "金融债务", 2),
    "/hf/3.html": ("离婚时房子怎么分?", "婚姻家庭", 3),
}
BOILERPLATE = ["本文为", "扫描二维码", "版权声明", "本文链接", "相关文章", "押金", "工伤认定", "网站首页",
               "当前位置", "统计脚本", "color", "版权所有"]


def html_route(title, category, num, *, charset="utf-8", etag=True, **kw) -> Route:
    headers = {"Content-Type": f"text/html; charset={charset}"}
    if etag:
        headers["ETag"] = f'"v1-{num}"'
        headers["Last-Modified"] = "Wed, 06 Mar 2024 08:00:00 GMT"
    return Route(page_html(title, category, num).encode("utf-8"), headers=headers, **kw)


def sitemap_xml(urls: list[str]) -> bytes:
    items = "".join(f"<url><loc>{u}</loc><lastmod>2024-03-06</lastmod></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    ).encode()


def sitemap_index_xml(urls: list[str]) -> bytes:
    items = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    ).encode()


def xml_route(body: bytes, **kw) -> Route:
    return Route(body, headers={"Content-Type": "application/xml", "ETag": '"sm1"'}, **kw)


def serve_three(site: Site) -> None:
    for path, (title, cat, num) in ARTICLES.items():
        site.routes[path] = html_route(title, cat, num)
    site.routes["/sitemap.xml"] = xml_route(sitemap_xml([site.url(p) for p in ARTICLES]))


def assert_articles(articles) -> None:
    by_url = {a.url: a for a in articles}
    assert len(by_url) == len(articles) == 3
    for _path, (title, cat, num) in ARTICLES.items():
        art = by_url[f"https://www.example-law.cn/hf/{num}.html"]
        assert art.title == title.replace("?", "？")
        assert art.category == cat
        assert art.published == f"2024-0{num % 9 + 1}-1{num % 10}"
        assert "### 相关法条参考" in art.body
        assert "2. 往来转账记录和聊天截图；" in art.body.split("\n")
        for word in BOILERPLATE:
            assert word not in art.body, (word, art.body)


# --- tests ----------------------------------------------------------------------


def test_sitemap_three_pages_then_all_304(site, tmp_path):
    serve_three(site)
    result, stats = load_web_with_stats(site.url("/sitemap.xml"), tmp_path, FAST)
    assert result.skipped == []
    assert_articles(result.articles)
    assert {a.source for a in result.articles} == {site.url(p) for p in ARTICLES}
    assert (stats.pages_ok, stats.not_modified, stats.failures) == (3, 0, 0)
    assert (tmp_path / "http_cache.sqlite").exists()

    site.reset_counts()
    result2, stats2 = load_web_with_stats(site.url("/sitemap.xml"), tmp_path, FAST)
    assert result2.skipped == []
    assert_articles(result2.articles)
    assert [a.id for a in result2.articles] == [a.id for a in result.articles]
    assert (stats2.pages_ok, stats2.not_modified, stats2.failures) == (0, 3, 0)
    for path, (_t, _c, num) in ARTICLES.items():
        assert site.counts[path] == 1  # one conditional request, no re-download
        assert site.served(path, 304) == 1
        (headers,) = site.request_headers(path)
        assert headers["if-none-match"] == f'"v1-{num}"'
        assert headers["if-modified-since"] == "Wed, 06 Mar 2024 08:00:00 GMT"
    assert site.served("/sitemap.xml", 304) == 1  # the sitemap is conditional too


def test_last_modified_only_gives_304(site, tmp_path):
    site.routes["/p.html"] = Route(
        page_html("加班费怎么计算?", "劳动纠纷", 4).encode(),
        headers={"Content-Type": "text/html", "Last-Modified": "Tue, 05 Mar 2024 10:00:00 GMT"},
    )
    first = load_web(site.url("/p.html"), tmp_path, FAST)
    second = load_web(site.url("/p.html"), tmp_path, FAST)
    assert [a.title for a in first.articles] == [a.title for a in second.articles] == ["加班费怎么计算？"]
    assert site.served("/p.html", 200) == 1
    assert site.served("/p.html", 304) == 1
    assert site.request_headers("/p.html")[1]["if-modified-since"] == "Tue, 05 Mar 2024 10:00:00 GMT"
    assert "if-none-match" not in site.request_headers("/p.html")[1]


def test_without_state_dir_nothing_is_conditional(site):
    serve_three(site)
    load_web(site.url("/sitemap.xml"), None, FAST)
    result = load_web(site.url("/sitemap.xml"), None, FAST)
    assert len(result.articles) == 3
    assert all("if-none-match" not in h for _p, h in site.headers)


def test_404_skipped_and_500_twice_then_retried(site, tmp_path):
    serve_three(site)
    site.routes["/hf/2.html"].fail_first = [500, 503]
    site.routes["/sitemap.xml"] = xml_route(sitemap_xml([site.url(p) for p in [*ARTICLES, "/hf/404.html"]]))
    result, stats = load_web_with_stats(site.url("/sitemap.xml"), tmp_path, FAST)
    assert len(result.articles) == 3
    assert [s.source for s in result.skipped] == [site.url("/hf/404.html")]
    assert "404" in result.skipped[0].reason
    assert site.counts["/hf/2.html"] == 3
    assert site.counts["/hf/404.html"] == 1  # a 404 is not retried
    assert stats.retries == 2
    assert stats.failures == 1


def test_retries_exhausted_is_skipped_with_reason(site, tmp_path):
    site.routes["/down.html"] = Route(b"", fail_first=[503] * 10)
    cfg = replace(FAST, retries=2)
    result = load_web(site.url("/down.html"), tmp_path, cfg)
    assert result.articles == []
    (skip,) = result.skipped
    assert "503" in skip.reason and "3 attempts" in skip.reason
    assert site.counts["/down.html"] == 3


def test_retry_after_is_respected(site, tmp_path):
    site.routes["/busy.html"] = Route(b"busy", status=429, headers={"Content-Type": "text/plain", "Retry-After": "1"})
    start = time.monotonic()
    result = load_web(site.url("/busy.html"), tmp_path, replace(FAST, retries=1, backoff=0.0))
    elapsed = time.monotonic() - start
    assert site.counts["/busy.html"] == 2
    assert elapsed >= 0.9  # waited the server's Retry-After, not the zero backoff
    assert "429" in result.skipped[0].reason
    # a 429 without Retry-After uses the (tiny) backoff and then succeeds
    serve_three(site)
    site.routes["/hf/1.html"].fail_first = [429]
    page = load_web(site.url("/hf/1.html"), tmp_path, FAST)
    assert len(page.articles) == 1 and site.counts["/hf/1.html"] == 2


def test_robots_txt_disallows_one_path(site, tmp_path):
    serve_three(site)
    site.routes["/robots.txt"] = Route(
        b"User-agent: *\nDisallow: /hf/3.html\n\nUser-agent: BadBot\nDisallow: /\n",
        headers={"Content-Type": "text/plain"},
    )
    result, stats = load_web_with_stats(site.url("/sitemap.xml"), tmp_path, FAST)
    assert sorted(a.url for a in result.articles) == [
        "https://www.example-law.cn/hf/1.html", "https://www.example-law.cn/hf/2.html"
    ]
    (skip,) = result.skipped
    assert skip.source == site.url("/hf/3.html")
    assert "robots" in skip.reason
    assert site.counts["/hf/3.html"] == 0  # never requested
    assert site.counts["/robots.txt"] == 1  # once per host
    assert stats.robots_blocked == 1
    # with respect_robots off, the page is fetched
    off = load_web(site.url("/sitemap.xml"), tmp_path, replace(FAST, respect_robots=False))
    assert len(off.articles) == 3


def test_robots_txt_names_our_agent(site, tmp_path):
    serve_three(site)
    site.routes["/robots.txt"] = Route(b"User-agent: LawFAQ-Test\nDisallow: /hf/\n", headers={"Content-Type": "text/plain"})
    result = load_web(site.url("/sitemap.xml"), tmp_path, FAST)
    assert result.articles == []
    assert len(result.skipped) == 3 and all("robots" in s.reason for s in result.skipped)


def test_robots_5xx_means_disallowed(site, tmp_path):
    serve_three(site)
    site.routes["/robots.txt"] = Route(b"oops", status=500)
    result = load_web(site.url("/sitemap.xml"), tmp_path, replace(FAST, retries=0))
    assert result.articles == []
    (skip,) = result.skipped  # the sitemap itself is not fetched
    assert skip.source == site.url("/sitemap.xml") and "robots.txt" in skip.reason
    assert site.counts["/sitemap.xml"] == 0


def test_user_agent_header(site, tmp_path):
    serve_three(site)
    load_web(site.url("/sitemap.xml"), tmp_path, FAST)
    assert site.headers, "no request reached the server"
    assert {h["user-agent"] for _p, h in site.headers} == {UA}
    assert {p for p, _h in site.headers} >= {"/robots.txt", "/sitemap.xml", *ARTICLES}


def test_default_user_agent(site, tmp_path):
    serve_three(site)
    load_web(site.url("/hf/1.html"), tmp_path, FetchConfig(allow_private=True))
    assert site.request_headers("/hf/1.html")[0]["user-agent"] == FetchConfig().user_agent


def test_sitemap_index_and_gzipped_child(site, tmp_path):
    serve_three(site)
    site.routes["/sitemap-a.xml"] = xml_route(sitemap_xml([site.url("/hf/1.html"), site.url("/hf/2.html")]))
    site.routes["/sitemap-b.xml.gz"] = Route(
        gzip.compress(sitemap_xml([site.url("/hf/3.html"), site.url("/hf/1.html")])),
        headers={"Content-Type": "application/gzip"},
    )
    site.routes["/sitemap_index.xml"] = xml_route(
        sitemap_index_xml([site.url("/sitemap-a.xml"), "/sitemap-b.xml.gz", site.url("/sitemap-missing.xml")])
    )
    result, stats = load_web_with_stats(site.url("/sitemap_index.xml"), tmp_path, FAST)
    assert_articles(result.articles)  # /hf/1.html listed twice, fetched once
    assert site.counts["/hf/1.html"] == 1
    (skip,) = result.skipped
    assert skip.source == site.url("/sitemap-missing.xml") and "404" in skip.reason
    assert stats.sitemaps == 3


def test_url_list_file(site, tmp_path):
    serve_three(site)
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# pages to index\n"
        f"{site.url('/hf/1.html')}\n\n"
        f"{site.url('/hf/2.html')}   # the debt one\n"
        "ftp://example.com/file\n"
        f"{site.url('/sitemap-only-3.xml')}\n",
        encoding="utf-8",
    )
    site.routes["/sitemap-only-3.xml"] = xml_route(sitemap_xml([site.url("/hf/3.html")]))
    result = load_web(str(listing), tmp_path / "state", FAST)
    assert_articles(result.articles)
    (skip,) = result.skipped
    assert skip.source == f"{listing}:5" and "not an http(s) URL" in skip.reason


def test_url_list_through_ingest_load(site, tmp_path):
    from ingest.load import LoadConfig, load

    serve_three(site)
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(site.url(p) for p in ARTICLES) + "\n", encoding="utf-8")
    result = load(listing, LoadConfig(state_dir=tmp_path / "state", allow_private=True))
    assert_articles(result.articles)
    assert (tmp_path / "state" / "http_cache.sqlite").exists()


def test_missing_url_list_file(tmp_path):
    result = load_web(str(tmp_path / "nope.txt"), tmp_path, FAST)
    assert result.articles == [] and len(result.skipped) == 1
    assert "no such" in result.skipped[0].reason


def test_max_connections_bound(site, tmp_path):
    paths = [f"/hf/{n}.html" for n in range(10, 18)]
    for n, path in enumerate(paths, start=10):
        site.routes[path] = html_route(f"合同纠纷第{n}问怎么处理?", "合同纠纷", n, delay=0.2)
    site.routes["/sitemap.xml"] = xml_route(sitemap_xml([site.url(p) for p in paths]))
    start = time.monotonic()
    result = load_web(site.url("/sitemap.xml"), tmp_path, replace(FAST, max_connections=2))
    elapsed = time.monotonic() - start
    assert len(result.articles) == 8 and result.skipped == []
    assert site.max_in_flight <= 2
    assert site.max_in_flight == 2  # and it does fetch in parallel
    assert elapsed >= 4 * 0.2 - 0.05


def test_timeout_after_retries_is_skipped(site, tmp_path):
    site.routes["/slow.html"] = html_route("拖欠货款怎么催?", "合同纠纷", 7, delay=0.6)
    cfg = replace(FAST, timeout=0.15, retries=1)
    result = load_web(site.url("/slow.html"), tmp_path, cfg)
    assert result.articles == []
    (skip,) = result.skipped
    assert "timed out" in skip.reason and "2 attempts" in skip.reason
    assert site.counts["/slow.html"] == 2


def test_unreachable_host_is_skipped(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    for robots in (True, False):
        result, stats = load_web_with_stats(
            f"http://127.0.0.1:{port}/hf/1.html", tmp_path, replace(FAST, retries=1, respect_robots=robots)
        )
        assert result.articles == []
        (skip,) = result.skipped
        assert "connect" in skip.reason
    unreachable_sitemap = load_web(f"http://127.0.0.1:{port}/sitemap.xml", tmp_path, replace(FAST, retries=0))
    assert unreachable_sitemap.articles == [] and len(unreachable_sitemap.skipped) == 1


def test_sitemap_unusable_is_one_skip(site, tmp_path):
    result = load_web(site.url("/sitemap.xml"), tmp_path, FAST)  # 404
    assert result.articles == [] and len(result.skipped) == 1
    assert "sitemap" in result.skipped[0].reason and "404" in result.skipped[0].reason
    site.routes["/broken.xml"] = xml_route(b"<urlset><url><loc>http://x/</loc></url>")  # truncated
    result = load_web(site.url("/broken.xml"), tmp_path, FAST)
    assert result.articles == [] and len(result.skipped) == 1
    assert "parsed" in result.skipped[0].reason
    site.routes["/entity.xml"] = xml_route(
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&e;</loc></url></urlset>'
    )
    result = load_web(site.url("/entity.xml"), tmp_path, FAST)
    assert result.articles == []
    assert all("root:" not in s.reason and "root:" not in s.source for s in result.skipped)


def test_huge_page_is_skipped(site, tmp_path):
    serve_three(site)
    big = page_html("超长页面", "劳动纠纷", 5, paras=4000).encode()
    site.routes["/big.html"] = Route(big, headers={"Content-Type": "text/html"})
    site.routes["/big-stream.html"] = Route(big, headers={"Content-Type": "text/html"}, content_length=False)
    site.routes["/sitemap.xml"] = xml_route(
        sitemap_xml([site.url("/hf/1.html"), site.url("/big.html"), site.url("/big-stream.html")])
    )
    cfg = replace(FAST, max_bytes=100_000)
    assert len(big) > cfg.max_bytes
    result = load_web(site.url("/sitemap.xml"), tmp_path, cfg)
    assert [a.title for a in result.articles] == ["公司拖欠工资三个月怎么办？"]
    reasons = {s.source: s.reason for s in result.skipped}
    assert set(reasons) == {site.url("/big.html"), site.url("/big-stream.html")}
    assert all("too large" in r for r in reasons.values())


def test_gbk_page_with_charset_header(site, tmp_path):
    html = page_html("欠条和借条有什么区别?", "金融债务", 6).replace('<meta charset="utf-8">', "")
    site.routes["/gbk.html"] = Route(html.encode("gbk"), headers={"Content-Type": "text/html; charset=gbk"})
    site.routes["/gbk-meta.html"] = Route(
        html.replace("<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
        .encode("gbk"),
        headers={"Content-Type": "text/html"},
    )
    for path in ("/gbk.html", "/gbk-meta.html"):
        (art,) = load_web(site.url(path), tmp_path, FAST).articles
        assert art.title == "欠条和借条有什么区别？"
        assert art.category == "金融债务"
        assert "《中华人民共和国民法典》第577条" in art.body


def test_non_html_and_unparseable_pages_are_skipped(site, tmp_path):
    site.routes["/file.pdf"] = Route(b"%PDF-1.7\x00\x01binary", headers={"Content-Type": "application/pdf"})
    site.routes["/empty.html"] = Route("<html><body><div class='nav'>首页</div></body></html>".encode(),
                                       headers={"Content-Type": "text/html"})
    site.routes["/bin.html"] = Route(b"\x00\x01\x02\x03" * 500, headers={"Content-Type": "text/html"})
    site.routes["/sitemap.xml"] = xml_route(sitemap_xml([site.url(p) for p in ("/file.pdf", "/empty.html", "/bin.html")]))
    result = load_web(site.url("/sitemap.xml"), tmp_path, FAST)
    assert result.articles == []
    reasons = {s.source.rsplit("/", 1)[1]: s.reason for s in result.skipped}
    assert "application/pdf" in reasons["file.pdf"]
    assert "cannot parse" in reasons["empty.html"]
    assert "decode" in reasons["bin.html"]


def test_redirect_is_followed(site, tmp_path):
    serve_three(site)
    site.routes["/old/1.html"] = Route(b"", status=301, headers={"Location": "/hf/1.html"})
    (art,) = load_web(site.url("/old/1.html"), tmp_path, FAST).articles
    assert art.url == "https://www.example-law.cn/hf/1.html"


def test_parse_sitemap_plain_and_gz():
    xml = sitemap_xml(["https://a.cn/1", "https://a.cn/2"])
    assert parse_sitemap(xml) == ("urlset", ["https://a.cn/1", "https://a.cn/2"])
    assert parse_sitemap(gzip.compress(xml)) == ("urlset", ["https://a.cn/1", "https://a.cn/2"])
    with pytest.raises(ValueError):
        parse_sitemap(b"<html><body>not a sitemap</body></html>")


# --- private addresses: refused unless allowed (issue 15) -------------------------


def test_loopback_is_refused_by_default_and_the_server_sees_nothing(site, tmp_path):
    from ingest.load import LoadConfig, load

    serve_three(site)
    default = FetchConfig(user_agent=UA)
    for source in (site.url("/hf/1.html"), site.url("/sitemap.xml")):
        result = load_web(source, tmp_path, default)
        assert result.articles == []
        (skip,) = result.skipped
        assert skip.source == source
        assert "refused: 127.0.0.1 is a loopback address" in skip.reason and "allow-private" in skip.reason
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(site.url(p) for p in ARTICLES) + "\n", encoding="utf-8")
    via_load = load(listing, LoadConfig(state_dir=tmp_path / "state"))  # a URL list named as the source
    assert via_load.articles == [] and len(via_load.skipped) == 3
    assert all("loopback" in s.reason for s in via_load.skipped)
    assert sum(site.counts.values()) == 0, site.counts


def test_a_folder_never_fetches_its_url_list_even_when_private_addresses_are_allowed(site, tmp_path):
    from ingest.load import URL_LIST_IN_FOLDER, LoadConfig, load

    serve_three(site)
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "urls.txt").write_text("\n".join(site.url(p) for p in ARTICLES) + "\n", encoding="utf-8")
    result = load(folder, LoadConfig(allow_private=True))
    assert result.articles == []
    assert [(s.source, s.reason) for s in result.skipped] == [(str(folder / "urls.txt"), URL_LIST_IN_FOLDER)]
    assert sum(site.counts.values()) == 0, site.counts


def test_a_redirect_to_a_private_address_is_refused(site, tmp_path, monkeypatch):
    import ingest.sources.addresses as addresses

    real_check = addresses._check_host

    def public_test_server(host: str, port: int) -> str | None:
        # as if the test server were on the internet; "localhost" is still checked for real
        return None if host == "127.0.0.1" else real_check(host, port)

    monkeypatch.setattr(addresses, "_check_host", public_test_server)
    serve_three(site)
    port = site.base.rsplit(":", 1)[1]
    target = f"http://localhost:{port}/hf/1.html"
    site.routes["/go.html"] = Route(b"", status=302, headers={"Location": target})
    result = load_web(site.url("/go.html"), tmp_path, FetchConfig(user_agent=UA, retries=0))
    assert result.articles == []
    (skip,) = result.skipped
    assert "refused: localhost is" in skip.reason and "loopback" in skip.reason
    assert site.counts["/go.html"] == 1 and site.counts["/hf/1.html"] == 0


def test_address_kinds():
    import ipaddress

    from ingest.sources.addresses import non_public_kind

    kinds = {a: non_public_kind(ipaddress.ip_address(a)) for a in (
        "127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "fe80::1",
        "0.0.0.0", "100.64.0.1", "::ffff:127.0.0.1", "224.0.0.1", "8.8.8.8", "2001:4860:4860::8888",
    )}
    assert kinds["127.0.0.1"] == kinds["::1"] == kinds["::ffff:127.0.0.1"] == "loopback"
    assert kinds["10.1.2.3"] == kinds["192.168.1.1"] == kinds["172.16.0.1"] == "private"
    assert kinds["169.254.169.254"] == kinds["fe80::1"] == "link-local"
    assert kinds["0.0.0.0"] and kinds["100.64.0.1"] and kinds["224.0.0.1"]
    assert kinds["8.8.8.8"] is None and kinds["2001:4860:4860::8888"] is None


def test_same_page_listed_with_tracking_parameters_is_fetched_once(site, tmp_path):
    serve_three(site)
    urls = [site.url("/hf/1.html"), site.url("/hf/1.html?utm_source=wechat"), site.url("/hf/1.html#part-2")]
    site.routes["/sitemap.xml"] = xml_route(sitemap_xml(urls))
    result = load_web(site.url("/sitemap.xml"), tmp_path, FAST)
    assert len(result.articles) == 1 and result.skipped == []
    assert site.counts["/hf/1.html"] == 1 and site.counts["/hf/1.html?utm_source=wechat"] == 0
