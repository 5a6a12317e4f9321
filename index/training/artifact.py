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


def read_json_record(folder: Path, name: str, made_by: str) -> dict:
    """A model folder's record file; ValueError naming the folder when absent or broken."""
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a model from `{made_by}` (no {name})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc


def save_query_tower(model, root: Path, name: str, record: dict,
                     extras: Callable[[Path], None] | None = None) -> TrainedModel:
    """Write the model and its record into `root/name` atomically (`write_folder`);
    `extras(folder)` writes whatever else belongs in it (the answered-question memory)."""
    from index.model import folder_checksum

    record = {"format": FORMAT, "kind": "query-tower", "name": name, **record}

    def fill(folder: Path) -> None:
        model.save(str(folder))
        if extras is not None:
            extras(folder)
        write_record(folder, RECORD, record)

    target = write_folder(root, name, fill)
    return TrainedModel(target, name, folder_checksum(target), record)


def read_record(folder: Path) -> dict:
    """The training record of a query tower folder; ValueError naming the folder when absent or broken."""
    path = folder / RECORD
    record = read_json_record(folder, RECORD, "python -m index train")
    if record.get("kind") != "query-tower" or not record.get("index_model", {}).get("checksum"):
        raise ValueError(f"{path} does not describe a query tower trained against an index")
    return record
