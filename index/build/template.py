"""The build's template step: learn what the corpus repeats and mark the passages that are template.

Run over every passage of the new version (reused and new alike), because the
template is a property of the whole corpus: an article added tonight can turn
a closing line into template for the articles that were there before.
"""
from __future__ import annotations

from index.storage.store import MetaStore
from ingest.template import learn_template


def mark_template(store: MetaStore) -> int:
    """Learn the corpus's template from the staged store, mark its passages; returns how many."""
    articles = {aid: (body, category) for aid, body, category in store.bodies()}
    template = learn_template(articles.values())
    spans = {aid: template.spans(body) for aid, (body, _) in articles.items()}
    marked = [pos for pos, aid, start, end in store.passage_spans()
              if template.is_template(spans[aid], start, end, articles[aid][0])]
    store.set_template(marked)
    store.commit()
    return len(marked)
