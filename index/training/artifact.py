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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.encoders.model import folder_checksum
from index.encoders.records import FORMAT, RECORD, read_record, trained_root

__all__ = ["RECORD", "TrainedModel", "read_record", "save_query_tower", "trained_root", "write_folder", "write_record"]


@dataclass
class TrainedModel:
    path: Path
    name: str
    checksum: str
    record: dict


def write_folder(root: Path, name: str, fill: Callable[[Path], None]) -> Path:
    """`fill` a temporary sibling of `root/name`, then rename it into place: a reader never sees half a
    model, and a failed save leaves the previous one as it was."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        fill(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_record(folder: Path, name: str, record: dict) -> None:
    (folder / name).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def save_query_tower(model, root: Path, name: str, record: dict,
                     extras: Callable[[Path], None] | None = None) -> TrainedModel:
    """Write the model and its record into `root/name` atomically (`write_folder`);
    `extras(folder)` writes whatever else belongs in it (the answered-question memory)."""
    record = {"format": FORMAT, "kind": "query-tower", "name": name, **record}

    def fill(folder: Path) -> None:
        model.save(str(folder))
        if extras is not None:
            extras(folder)
        write_record(folder, RECORD, record)

    target = write_folder(root, name, fill)
    return TrainedModel(target, name, folder_checksum(target), record)
