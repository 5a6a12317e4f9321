"""The training loop: a query tower learns to land lay questions on the index's passage vectors.

Loss: for each question, the softmax over *every* passage in the index
(57,873 for STARD: one 32 x 57,873 matrix product per step), pushing up the
log-sum of its answering passages. That is hard-negative mining done
exhaustively: the highest-ranked passages of other articles are always in
the denominator. Past `max_negatives` passages, each step samples that many
plus the positives instead.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.training.pairs import Pair

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Measured on STARD, 5-fold CV (docs/bench/training.md): these beat lr 3e-5 / tau 0.02 / 3 epochs."""

    epochs: int = 4
    learning_rate: float = 5e-5
    temperature: float = 0.05
    batch_size: int = 32
    max_seq_length: int = 128  # lay questions are short; 128 tokens holds 99.9% of STARD's
    mined_per_epoch: int = 2000  # mined pairs drawn per epoch (a 50k-article site has 50k titles)
    max_negatives: int = 400_000
    warmup: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _epoch_pairs(labelled: list[Pair], mined: list[Pair], config: TrainConfig, rng: random.Random) -> list[Pair]:
    drawn = rng.sample(mined, min(len(mined), config.mined_per_epoch))
    out = labelled + drawn
    rng.shuffle(out)
    return out


def _loss(torch, qv, passages, batch: list[Pair], config: TrainConfig, rng: random.Random):
    """Mean over the batch of logsumexp(all passages) - logsumexp(answering passages)."""
    n = passages.shape[0]
    if n > config.max_negatives:
        keep = np.unique(np.concatenate([rng_sample(rng, n, config.max_negatives)] + [p.positives for p in batch]))
        index = {int(p): i for i, p in enumerate(keep)}
        scores = qv @ passages[torch.from_numpy(keep)].T / config.temperature
        positives = [torch.tensor([index[int(p)] for p in pair.positives]) for pair in batch]
    else:
        scores = qv @ passages.T / config.temperature
        positives = [torch.from_numpy(pair.positives) for pair in batch]
    every = torch.logsumexp(scores, dim=1)
    answering = torch.stack([torch.logsumexp(scores[i, pos], 0) for i, pos in enumerate(positives)])
    return (every - answering).mean()


def rng_sample(rng: random.Random, n: int, k: int) -> np.ndarray:
    return np.asarray(rng.sample(range(n), k), np.int64)


def train_query_tower(
    base_dir: Path,
    query_prompt: str,
    passage_vectors: np.ndarray,
    labelled: list[Pair],
    mined: list[Pair] = (),
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
):
    """Fine-tune a copy of the SentenceTransformer at `base_dir` as a query encoder; returns it.

    The passage vectors stay fixed, so the model is only ever used for
    queries, against an index whose vectors came from the model it started from.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    config = config or TrainConfig()
    mined = list(mined)
    if not labelled and not mined:
        raise ValueError("nothing to train on: no labelled questions and no mined pairs")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_seq_length
    passages = torch.from_numpy(np.ascontiguousarray(passage_vectors, dtype=np.float32))
    per_epoch = len(labelled) + min(len(mined), config.mined_per_epoch)
    steps = config.epochs * -(-per_epoch // config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    warm = max(1, int(config.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps)
    )
    started = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        pairs, total = _epoch_pairs(labelled, mined, config, rng), 0.0
        for start in range(0, len(pairs), config.batch_size):
            batch = pairs[start : start + config.batch_size]
            features = model.preprocess([query_prompt + p.text for p in batch])
            qv = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
            loss = _loss(torch, qv, passages, batch, config, rng)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        message = f"epoch {epoch + 1}/{config.epochs}: loss {total / len(pairs):.3f}, {time.perf_counter() - started:.0f} s"
        log.info(message)
        if progress:
            progress(message)
    model.eval()
    return model


def encode_questions(model, texts: list[str], query_prompt: str) -> np.ndarray:
    """Normalised float32 vectors of `texts` with the training-time prompt."""
    vecs = model.encode(texts, prompt=query_prompt, batch_size=64, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vecs, dtype=np.float32)
