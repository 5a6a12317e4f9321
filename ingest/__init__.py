"""Ingest: sources -> clean Article records -> Passages (chunks) with statute citations."""
from ingest.load import LoadConfig, load, load_many
from ingest.records import Article, Citation, LoadResult, Passage, Skipped

__all__ = ["Article", "Citation", "LoadConfig", "LoadResult", "Passage", "Skipped", "load", "load_many"]
