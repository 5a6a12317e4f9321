"""`python -m index train`: cross-validate (when there are labelled questions), then train the final tower.

The final tower learns from every labelled question plus the mined pairs;
its fusion weights are fitted on all out-of-fold vectors (each question
encoded by a tower that never saw it). With no labelled questions (a FAQ
site's own titles and headings only) there is nothing honest to fit fusion
on, so the 1:1 fusion stays.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.search.answered import MEMORY_FILE
from index.storage.layout import IndexDir, read_manifest
from index.training.artifact import TrainedModel, save_query_tower, trained_root
from index.training.crossval import CrossValidation, add_memory_variants, cross_validate, fit_memory_vote
from index.training.pairs import IndexVectors, labelled_pairs, mined_pairs
from index.training.tower import TrainConfig, train_query_tower
from index.training.weights import FixedVectors, fit_fusion

log = logging.getLogger(__name__)

OOF_FILE = ".cv_out_of_fold.npz"  # each labelled question's vector from the fold tower that never saw it


@dataclass
class TrainResult:
    model: TrainedModel | None  # None when only cross-validating
    cross_validation: CrossValidation | None
    seconds: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "model": {"path": str(self.model.path), "name": self.model.name, "checksum": self.model.checksum}
            if self.model else None,
            "cross_validation": self.cross_validation.to_dict() if self.cross_validation else None,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def _compatible(version_dir: Path, model: dict) -> IndexVectors:
    """Another index's vectors, if they come from the same passage model (one tower serves both)."""
    other = IndexVectors.load(version_dir)
    if other.model.get("checksum") != model.get("checksum"):
        raise ValueError(f"{version_dir} was built with model {other.model.get('name')} "
                         f"({other.model.get('checksum')}), not {model.get('name')} ({model.get('checksum')}): "
                         "a tower learns one passage model's space")
    return other


def default_name(manifest_model: dict) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"query-{manifest_model.get('checksum', 'model')[:8]}-{stamp}"


def train(searcher, queries: dict[str, str] | None = None, qrels: dict[str, dict[str, int]] | None = None,
          folds: int = 5, final: bool = True, mine: bool = True, also: list[Path] | None = None,
          name: str | None = None,
          out_root: Path | None = None, config: TrainConfig | None = None,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    """Train a query tower for the index `searcher` serves (opened with its base embedder)."""
    from index.encoders.model import cache_dir as default_cache

    config = config or TrainConfig()
    say = progress or (lambda m: log.info("%s", m))
    version = searcher.layout.current()
    vectors = IndexVectors.load(version)
    labelled = labelled_pairs(vectors, queries or {}, qrels or {})
    mined = mined_pairs(version) if mine else []
    matrices, also_versions = [vectors.vectors], []
    for group, other in enumerate(also or [], start=1):
        other_vectors = _compatible(IndexDir(Path(other)).current(), vectors.model)
        matrices.append(other_vectors.vectors)
        also_versions.append(str(other_vectors.path))
        mined += [replace(p, group=group) for p in mined_pairs(other_vectors.path)] if mine else []
    counts = {"labelled": len(labelled), **Counter(p.source for p in mined)}
    say(f"training pairs: {counts}")
    base_dir = Path(searcher.embedder.model_dir)
    seconds: dict[str, float] = {}
    cv = None
    if labelled and folds > 1:
        t = time.perf_counter()
        cv = cross_validate(searcher, base_dir, labelled, mined, qrels or {}, config, folds, say, matrices)
        add_memory_variants(searcher, cv, {p.key: searcher.question_text(p.text) for p in labelled}, qrels or {}, say)
        seconds["cross_validation"] = time.perf_counter() - t
        say("cross-validated (mean ± sd over folds):\n" + cv.table())
    if not final:
        return TrainResult(None, cv, seconds)
    t = time.perf_counter()
    tower = train_query_tower(base_dir, searcher.embedder.query_prompt, matrices, labelled, mined, config,
                              progress=lambda m: say(f"final {m}"))
    seconds["final_training"] = time.perf_counter() - t
    fusion, memory = None, None
    if cv is not None:
        questions = {p.key: searcher.question_text(p.text) for p in labelled}
        oof = FixedVectors(cv.oof_vectors, searcher.embedder.checksum, judge=cv.base_vectors or None)
        weights, _ = fit_fusion(searcher.ranker(encoder=oof, memory=None), questions, qrels or {})
        memory, weights, _ = fit_memory_vote(searcher, cv, questions, qrels or {}, weights)
        fusion = weights.to_dict()
        say(f"learned fusion (all out-of-fold vectors), answered questions included: {fusion}")
    record = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "index_model": vectors.model,
        "base_model_dir": str(base_dir),
        "trained_against": {"index": str(searcher.layout.root), "version": version.name,
                            "passages": int(vectors.vectors.shape[0]), "also": also_versions},
        "training": {"pairs": counts, "config": config.to_dict(), "seconds": round(seconds["final_training"], 1)},
        "fusion": fusion,
        "fusion_sources": sorted(read_manifest(version).get("sources") or []) if fusion else [],
        "cross_validation": cv.to_dict() if cv else None,
    }
    root = out_root or trained_root(default_cache())
    model = save_query_tower(tower, root, name or default_name(vectors.model), record,
                             extras=(lambda folder: memory.save(folder / MEMORY_FILE)) if memory is not None else None)
    if cv is not None:  # beside the model, hidden (not part of its checksum): for studying what else to learn
        texts = sorted(cv.oof_vectors)
        np.savez_compressed(model.path / OOF_FILE, questions=np.array(texts),
                            vectors=np.stack([cv.oof_vectors[t] for t in texts]).astype(np.float32))
    say(f"saved {model.path} (checksum {model.checksum}); serve it with LAWFAQ_QUERY_MODEL={model.path}")
    return TrainResult(model, cv, seconds)
