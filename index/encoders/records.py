"""Reading a trained model's folder: where trained models live and the record of how one was made.

The write side (saving a tower atomically) belongs to training; serving only
reads, so this module lets the encoders load a tower without importing training.
"""
from __future__ import annotations

import json
from pathlib import Path

RECORD = "lawfaq-training.json"
FORMAT = 1


def trained_root(cache_dir: Path) -> Path:
    return cache_dir / "trained"


def read_json_record(folder: Path, name: str, made_by: str) -> dict:
    """A model folder's record file; ValueError naming the folder when absent or broken."""
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a model from `{made_by}` (no {name})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc


def read_record(folder: Path) -> dict:
    """The training record of a query tower folder; ValueError naming the folder when absent or broken."""
    path = folder / RECORD
    record = read_json_record(folder, RECORD, "python -m index train")
    if record.get("kind") != "query-tower" or not record.get("index_model", {}).get("checksum"):
        raise ValueError(f"{path} does not describe a query tower trained against an index")
    return record
