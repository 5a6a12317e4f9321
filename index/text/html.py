"""The one HTML escaper of the project: the search page (`index.serving.render`) and the
firm's report (`index.firm.report_render`) both put text from the index, the question log
or the user into HTML, and must agree on how.

`None` becomes the empty string: a missing category, date or title leaves its place
empty instead of printing the word "None" to the reader. Quotes are escaped too, so the
same function is safe inside attribute values.

The module name shadows the stdlib ``html`` only inside the ``index.text`` package;
always import it as ``index.text.html``.
"""
from __future__ import annotations

import html

__all__ = ["escape"]


def escape(value: object) -> str:
    """`value` as text safe in HTML content and in quoted attribute values ('' for None)."""
    return html.escape("" if value is None else str(value), quote=True)
