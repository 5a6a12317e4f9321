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

from index.training.optim import adamw_with_warmup, take_step
from index.training.pairs import Pair

log = logging.getLogger(__name__)


LOSSES = ("any", "every")


@dataclass
class TrainConfig:
    """How a query tower is trained. Every default was chosen by screening on STARD fold 1 of 5 only
    (never on `eval/`): loss "every" because STARD questions have several answering statutes and "any"
    stops at the first; a sharp temperature because it spends the gradient on the few passages that
    outrank an answer. The screens, their figures and what was not kept (more epochs, a higher rate, a
    passage-side adapter, full fine-tuning) are in docs/decisions/training-screens.md."""

    epochs: int = 4
    learning_rate: float = 2e-4
    temperature: float = 0.015
    batch_size: int = 32
    # lay questions are short; 128 tokens holds nearly all of STARD's (measured:
    # docs/decisions/training-screens.md)
    max_seq_length: int = 128
    mined_per_epoch: int = 2000  # mined pairs drawn per epoch (a 50k-article site has 50k titles)
    max_negatives: int = 400_000
    warmup: float = 0.1
    freeze_embeddings: bool = True
    seed: int = 0
    # "any": one answering passage suffices; "every": each answering article is pushed up on its own
    loss: str = "every"

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: one of {', '.join(LOSSES)}")

    def to_dict(self) -> dict:
        return asdict(self)


def _epoch_batches(labelled: list[Pair], mined: list[Pair], config: TrainConfig,
                   rng: random.Random) -> list[list[Pair]]:
    """This epoch's batches, shuffled; a batch never mixes indexes (one softmax over one index's passages)."""
    drawn = rng.sample(mined, min(len(mined), config.mined_per_epoch))
    groups: dict[int, list[Pair]] = {}
    for pair in labelled + drawn:
        groups.setdefault(pair.group, []).append(pair)
    batches = []
    for pairs in groups.values():
        rng.shuffle(pairs)
        batches += [pairs[i : i + config.batch_size] for i in range(0, len(pairs), config.batch_size)]
    rng.shuffle(batches)
    return batches


def _loss(torch, qv, passages, batch: list[Pair], config: TrainConfig, rng: random.Random):
    """Mean over the batch of logsumexp(all passages) - logsumexp(answering passages).

    `loss="every"`: each answering article gets that term on its own passages, averaged per question,
    so a question with three statutes is not satisfied by finding one (`loss="any"`).
    """
    n = passages.shape[0]
    if n > config.max_negatives:
        keep = np.unique(np.concatenate([rng_sample(rng, n, config.max_negatives)] + [p.positives for p in batch]))
        index = {int(p): i for i, p in enumerate(keep)}
        scores = qv @ passages[torch.from_numpy(keep)].T / config.temperature
        positives = [torch.tensor([index[int(p)] for p in pair.positives]) for pair in batch]
    else:
        scores = qv @ passages.T / config.temperature
        positives = [torch.from_numpy(pair.positives) for pair in batch]
    all_passages = torch.logsumexp(scores, dim=1)
    if config.loss == "every":
        answering = torch.stack([
            torch.stack([torch.logsumexp(scores[i, pos[torch.from_numpy(g)]], 0) for g in pair.answer_groups()]).mean()
            for i, (pair, pos) in enumerate(zip(batch, positives, strict=True))])
    else:
        answering = torch.stack([torch.logsumexp(scores[i, pos], 0) for i, pos in enumerate(positives)])
    return (all_passages - answering).mean()


def rng_sample(rng: random.Random, n: int, k: int) -> np.ndarray:
    return np.asarray(rng.sample(range(n), k), np.int64)


def train_query_tower(
    base_dir: Path,
    query_prompt: str,
    passage_vectors: np.ndarray | list[np.ndarray],
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
    matrices = passage_vectors if isinstance(passage_vectors, list) else [passage_vectors]
    passages = [torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32)) for m in matrices]
    steps = config.epochs * len(_epoch_batches(labelled, mined, config, random.Random(0)))
    # 96M of the 118M weights are the token table: frozen, steps are markedly faster
    # (measured: docs/decisions/training-screens.md)
    if config.freeze_embeddings:
        for name, weight in model.named_parameters():
            if "word_embeddings" in name:
                weight.requires_grad = False
    trainable = [w for w in model.parameters() if w.requires_grad]
    optimizer, schedule = adamw_with_warmup(torch, trainable, config.learning_rate, steps, config.warmup)
    started = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        batches, total, seen = _epoch_batches(labelled, mined, config, rng), 0.0, 0
        for batch in batches:
            features = model.preprocess([query_prompt + p.text for p in batch])
            qv = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
            loss = _loss(torch, qv, passages[batch[0].group], batch, config, rng)
            total += take_step(optimizer, schedule, loss) * len(batch)
            seen += len(batch)
        message = f"epoch {epoch + 1}/{config.epochs}: loss {total / seen:.3f}, {time.perf_counter() - started:.0f} s"
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
