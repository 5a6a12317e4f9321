"""What the Searcher found, finished into the API's JSON: absolute links and repeal notes.

The Searcher makes links for the search page, where "?article=..." is enough;
an API client lives on another site, so every link it gets is absolute (based
on LAWFAQ_PUBLIC_URL, else this server's own URL) and every article also gets
this API's URL. Statutes of a repealed law carry a note saying which provision
replaced them, because a client showing the citation alone would mislead.

When LAWFAQ_PUBLIC_URL is set, no link is ever built from the request's Host
header (a client writes that header, and a cache in front may keep the answer
for everyone): `article_url` then has the public URL's scheme and host, and
the API's own root path (uvicorn --root-path, when a proxy mounts it under a
prefix). Source URLs are passed on only as http(s) links with quotes and
angle brackets percent-encoded (`index.search.hits.source_link`), also from an
index built before ingest encoded them.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from fastapi import Request

from index.search.hits import article_link, safe_link, source_link
from index.search.repeal import repeal_label, successor_display
from index.settings import Settings
from index.storage.store import ArticleRow, PassageRow


def page_base(settings: Settings, request: Request) -> str:
    """Where the search page lives: LAWFAQ_PUBLIC_URL, else this server's own base URL."""
    return safe_link(settings.public_url or str(request.base_url))


def api_base(settings: Settings, request: Request) -> str:
    """This API's base URL, without the final "/": LAWFAQ_PUBLIC_URL's scheme and host with the
    API's root path when the public URL is set (never the request's Host), else the request's base URL."""
    own = str(request.base_url)
    public = settings.public_url.strip()
    if public:
        parts = urlsplit(public)
        if parts.scheme and parts.netloc:
            own = urlunsplit((parts.scheme, parts.netloc, urlsplit(own).path, "", ""))
        else:  # not an absolute URL: taken as it is, like page_base takes it
            own = public
    return safe_link(own.rstrip("/"))


def _absolute(link: str, base: str) -> str:
    return base + link if link.startswith("?") else link


@lru_cache(maxsize=4096)
def _repeal_of_label(label: str) -> tuple[str, tuple[str, ...]] | None:
    """(status badge, display keys of the successors) when `label` cites a repealed law."""
    status = repeal_label(label)
    return None if status is None else (status, tuple(successor_display(label)))


def repealed_statutes(labels: Iterable[str]) -> list[dict[str, Any]]:
    """`{"statute", "status", "now"}` for each label (deduplicated, order kept) of a repealed law."""
    out = []
    for label in dict.fromkeys(labels):
        found = _repeal_of_label(label)
        if found is not None:
            out.append({"statute": label, "status": found[0], "now": list(found[1])})
    return out


def finish_hits(hits: list[dict], request: Request, settings: Settings) -> None:
    """Complete each hit in place: absolute links, this API's article URL, repeal notes."""
    page, api = page_base(settings, request), api_base(settings, request)
    for hit in hits:
        hit["url"] = source_link(hit["url"])
        hit["link"] = _absolute(hit["link"], page)
        hit["article_url"] = f"{api}/articles/{quote(hit['article_id'], safe='')}"
        hit["repealed_statutes"] = repealed_statutes([*hit["statutes"], *hit["article_statutes"]])
        for copy in hit.get("also_in", []):
            copy["link"] = _absolute(copy["link"], page)
            copy["article_url"] = f"{api}/articles/{quote(copy['article_id'], safe='')}"
        for excerpt in hit.get("more", []):
            excerpt["link"] = _absolute(excerpt["link"], page)


def article_out(row: ArticleRow, passages: list[PassageRow], base: str) -> dict:
    """The /articles answer for one stored article and its passages."""
    # `labels` are the statutes as the hits show them (民法典第1077条); older stores lack them
    out_passages = [{"id": p.id, "start": p.start, "end": p.end, "heading": p.heading, "text": p.text,
                     "statutes": list(p.labels or p.statutes)} for p in passages]
    return {
        "id": row.id, "title": row.title, "url": source_link(row.url), "category": row.category,
        "published": row.published, "tags": list(row.tags or []), "body": row.body,
        "page_url": article_link(row.id, None, base),
        "passages": out_passages,
        "repealed_statutes": repealed_statutes(s for p in out_passages for s in p["statutes"]),
    }
