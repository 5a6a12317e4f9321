"""trafilatura, importable whichever lxml is installed.

trafilatura imports justext, which imports ``lxml.html.clean``. Since lxml 5.2
that module lives in the separate ``lxml_html_clean`` package; without it
``import trafilatura`` fails. trafilatura never uses the Cleaner (only
justext's paragraph classifier), so when the package is missing a stand-in
module that refuses to be used keeps the import working. Import trafilatura
from here, never directly.
"""
from __future__ import annotations

import sys
import types


def _ensure_lxml_clean_importable() -> None:
    """Register a stand-in ``lxml.html.clean`` when the real one cannot be imported."""
    try:
        import lxml.html.clean  # noqa: F401
    except ImportError:
        shim = types.ModuleType("lxml.html.clean")

        class Cleaner:  # pragma: no cover - only reached if justext's preprocessor is called
            def __init__(self, *args: object, **kwargs: object) -> None:
                raise ImportError("lxml.html.clean needs the lxml_html_clean package")

        shim.Cleaner = Cleaner  # type: ignore[attr-defined]
        sys.modules["lxml.html.clean"] = shim


_ensure_lxml_clean_importable()

import trafilatura  # noqa: E402
from trafilatura.metadata import extract_metadata  # noqa: E402

__all__ = ["extract_metadata", "trafilatura"]
