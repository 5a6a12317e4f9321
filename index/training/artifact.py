"""A trained query tower on disk: a SentenceTransformer folder plus the record of how it was made.

Lives under ``LAWFAQ_CACHE/trained/<name>/`` (never in git). The record
(`lawfaq-training.json`) names the passage model it was trained against —
the index's manifest model, checksum included — so serving can refuse to
pair it with vectors from any other model.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

RECORD = "lawfaq-training.json"
FORMAT = 1


@dataclass
class TrainedModel:
    path: Path
    name: str
    checksum: str
    record: dict


def trained_root(cache_dir: Path) -> Path:
    return cache_dir / "trained"


def save_query_tower(model, root: Path, name: str, record: dict) -> TrainedModel:
    """Write the model and its record into `root/name`, atomically (temporary sibling, then rename)."""
    from index.model import folder_checksum

    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        model.save(str(tmp))
        record = {"format": FORMAT, "kind": "query-tower", "name": name, **record}
        (tmp / RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TrainedModel(target, name, folder_checksum(target), record)


def read_record(folder: Path) -> dict:
    """The training record of a query tower folder; ValueError naming the folder when absent or broken."""
    path = folder / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a query tower from `python -m index train` (no {RECORD})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc
    if record.get("kind") != "query-tower" or not record.get("index_model", {}).get("checksum"):
        raise ValueError(f"{path} does not describe a query tower trained against an index")
    return record
