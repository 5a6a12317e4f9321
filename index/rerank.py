"""A second stage that reads the question and a passage together: a small cross-encoder.

The first stage compares a question vector with passage vectors made
separately; a cross-encoder attends across both texts at once, so it can see
that 被老板开除 in the question and 解除劳动合同 in the statute are the same
event. It is too slow to read 57,873 passages, so it reorders only the first
stage's top `rerank_depth` passages.

Why it is small: it starts from the bundled e5's first few layers (the full 12
read 30 pairs in ~1.1 s on 2 cores; 2 layers in ~0.25 s), with a fresh scoring
head over the mean of the token states (e5 was trained with mean pooling).
Trained by `python -m index train-reranker` (index.training.reranker); the
folder holds the truncated transformer, its tokenizer, `head.npz` and the
training record. Serving it is opt-in (``LAWFAQ_RERANKER``): see the README
for what it costs and what it buys on questions it never saw.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

RECORD = "lawfaq-reranker.json"
HEAD = "head.npz"
FORMAT = 1


def pair_text(title: str, passage: str) -> str:
    """What the reranker reads of a passage: its article's title (for a statute, the law's name and
    article number), then the passage — the same text the passage vector was made from."""
    return f"{title}\n{passage}"


def truncated_backbone(folder: Path, layers: int | None = None):
    """The transformer in `folder` (its first `layers` layers), without the load report transformers
    prints for the weights of the layers left out: leaving them out is the point."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        extra = {"num_hidden_layers": layers} if layers else {}
        return AutoModel.from_pretrained(str(folder), add_pooling_layer=False, **extra)
    finally:
        hf_logging.set_verbosity(before)


def build_module(torch, backbone):
    """Truncated e5 + mean pooling over the pair's tokens + a linear head: one relevance logit per pair."""

    class CrossScorer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.head = torch.nn.Linear(backbone.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask):
            states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return CrossScorer()


def read_reranker_record(folder: Path) -> dict:
    """The training record of a reranker folder; ValueError naming the folder when absent or broken."""
    from index.training.artifact import read_json_record

    path = Path(folder) / RECORD
    record = read_json_record(Path(folder), RECORD, "python -m index train-reranker")
    if record.get("kind") != "reranker" or not (Path(folder) / HEAD).exists():
        raise ValueError(f"{path} does not describe a reranker (kind {record.get('kind')!r}, {HEAD} present: "
                         f"{(Path(folder) / HEAD).exists()})")
    return record


def resolve_reranker(value: str, cache_dir: Path) -> Path:
    """A folder, or the name of one under LAWFAQ_CACHE/trained."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    named = cache_dir / "trained" / value
    if named.is_dir():
        return named
    raise ValueError(f"LAWFAQ_RERANKER={value}: no such folder, and no trained reranker of that name in "
                     f"{cache_dir / 'trained'}")


class Reranker:
    """Scores (question, passage) pairs with a trained cross-encoder folder, in torch on the CPU.

    Thread-safe: torch modules in eval mode can be called from several threads;
    the lock only guards the lazy load.
    """

    def __init__(self, folder: Path, max_length: int | None = None):
        self.folder = Path(folder)
        self.record = read_reranker_record(self.folder)
        self.name = self.record.get("name", self.folder.name)
        self.max_length = max_length or int(self.record.get("config", {}).get("max_length", 192))
        self._module = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def layers(self) -> int:
        return int(self.record.get("config", {}).get("layers", 0))

    def _load(self):
        with self._lock:
            if self._module is None:
                import torch
                from transformers import AutoTokenizer

                backbone = truncated_backbone(self.folder)
                module = build_module(torch, backbone)
                head = np.load(self.folder / HEAD)
                module.head.weight.data = torch.from_numpy(head["weight"].astype(np.float32))
                module.head.bias.data = torch.from_numpy(head["bias"].astype(np.float32))
                module.eval()
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
                self._module = module
        return self._module, self._tokenizer

    def score(self, question: str, passages: list[str], batch_size: int = 32) -> np.ndarray:
        """One logit per passage (higher = answers the question better); float32, same order."""
        if not passages:
            return np.zeros(0, np.float32)
        import torch

        module, tokenizer = self._load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(passages), batch_size):
                chunk = passages[i : i + batch_size]
                enc = tokenizer([question] * len(chunk), chunk, truncation="only_second",
                                max_length=self.max_length, padding=True, return_tensors="pt")
                out.append(module(enc["input_ids"], enc["attention_mask"]).float().numpy())
        return np.concatenate(out).astype(np.float32)


class RerankerUnavailable(ValueError):
    """LAWFAQ_RERANKER names something that is not a trained reranker."""


_configured: dict[str, Reranker] = {}
_configured_lock = threading.Lock()


def configured_reranker() -> Reranker | None:
    """One Reranker per process for LAWFAQ_RERANKER (the page, the API and the CLI share it), else None."""
    from index.settings import settings

    config = settings()
    if not config.reranker:
        return None
    with _configured_lock:
        if config.reranker not in _configured:
            try:
                folder = resolve_reranker(config.reranker, config.cache_dir)
                _configured[config.reranker] = Reranker(folder)
            except ValueError as exc:
                raise RerankerUnavailable(str(exc)) from None
        return _configured[config.reranker]
