"""Checks that stop a build before anything is staged: an empty source, a source that shrank too much."""
from __future__ import annotations


class BuildRefused(RuntimeError):
    """A guard refused to publish (exit code 2)."""


def require_articles(n_articles: int, n_previous: int) -> None:
    """A first build needs articles (a failure, exit 1); a later one may remove them all if allowed to shrink."""
    if not n_articles and not n_previous:
        raise RuntimeError("the sources hold no articles; nothing to index")


def check_shrink(removed: int, previous: int, max_shrink: float, allow_shrink: bool) -> None:
    """Refuse a version that loses more than `max_shrink` of the serving one's articles, unless allowed."""
    if not previous:
        return
    lost = removed / previous
    if lost > max_shrink and not allow_shrink:
        raise BuildRefused(
            f"the new version would lose {removed} of {previous} articles "
            f"({lost:.0%} > {max_shrink:.0%}); check the source, or pass --allow-shrink"
        )
