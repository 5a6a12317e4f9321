"""What each index sees of an article: its content hash, the text the model embeds, the text BM25 tokenizes."""
from __future__ import annotations

from ingest.ids import content_hash
from ingest.records import Article

# Bump when chunking or tokenization changes: every article is then "changed".
PIPELINE_VERSION = "chunk5-tok1"


def article_hash(a: Article) -> str:
    return content_hash(
        PIPELINE_VERSION, a.title, a.body, a.url or "", a.category or "", a.published or "", "|".join(a.tags)
    )


def embed_text(title: str, passage_text: str, heading: str = "") -> str:
    """What the model sees: the title gives a passage its topic, the heading path its sub-question
    (a FAQ heading is usually the question its section answers: "N到底怎么算")."""
    return f"{title}\n{heading}\n{passage_text}" if heading else f"{title}\n{passage_text}"


def lexical_text(title: str, heading: str, passage_text: str) -> str:
    return f"{title}\n{heading}\n{passage_text}"
