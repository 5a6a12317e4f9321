"""Training the cross-encoder reranker (index.rerank) on questions with known answers.

Each training question becomes a group: one passage that answers it and
`group_size - 1` passages the first stage ranked high that do not (hard
negatives, drawn from its top `depth`). The loss is the softmax cross-entropy
of the answer within its group — the reranker learns exactly the decision it
makes at search time: which of the first stage's top passages answers.

Candidates come from the *base* model's hybrid search, never from a trained
tower: a tower cross-validated on other folds has seen the very questions a
fold's reranker is later judged on, and its candidate lists would carry that.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index.rerank import FORMAT, HEAD, RECORD, build_module, pair_text, truncated_backbone
from index.training.artifact import write_folder, write_record
from index.training.optim import adamw_with_warmup, take_step

log = logging.getLogger(__name__)


@dataclass
class RerankConfig:
    """Sized for 2 cores: 2 of e5's 12 layers train at ~28 pairs/s and read 30 pairs in ~0.25 s
    (4 layers: 15 pairs/s, 0.46 s; measured with 192-token pairs)."""

    layers: int = 2
    epochs: int = 2
    learning_rate: float = 1e-4
    group_size: int = 8  # 1 answer + 7 hard negatives per question per step
    questions_per_batch: int = 4
    depth: int = 30  # hard negatives come from the first stage's top `depth` passages
    max_length: int = 192  # tokens of question + passage; STARD statutes: median 91 characters, p90 219
    warmup: float = 0.1
    freeze_embeddings: bool = True  # 96M of e5's 118M weights are the token table
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RerankExample:
    """One question, the passages that answer it, and the first stage's high-ranked ones that do not."""

    key: str  # question id (or article id for a mined title): what cross-validation splits on
    question: str
    positives: list[str]
    negatives: list[str] = field(default_factory=list)  # best-ranked first


def _texts(store, positions: list[int]) -> dict[int, tuple[str, str]]:
    """position -> (what the reranker reads, the passage's own text)."""
    rows = store.passages(positions)
    titles = {aid: a.title for aid, a in store.articles({r.article_id for r in rows.values()}).items()}
    return {p: (pair_text(titles.get(r.article_id, ""), r.text), r.text) for p, r in rows.items()}


def rerank_examples(searcher, questions: dict[str, str], relevant: dict[str, set[str]],
                    depth: int = 30, mode: str = "hybrid") -> list[RerankExample]:
    """Examples from the index `searcher` serves: positives are the relevant articles' passages,
    negatives the first stage's top-`depth` passages of other articles."""
    v = searcher._version
    store = v.store
    examples = []
    for key, text in questions.items():
        wanted = relevant.get(key, set())
        positives = [p.pos for aid in wanted for p in store.passages_of(aid)]
        if not positives:
            continue
        query = searcher.question_text(text)
        ranked = searcher._rank(v, query, mode, None, {}).ranked[:depth]
        negatives = [p for p in ranked if v.article_ids[int(v.article_idx[p])] not in wanted]
        texts = _texts(store, positives + negatives)
        # a near-duplicate article can repeat an answering passage word for word: never call it wrong
        same = {texts[p][1] for p in positives if p in texts}
        examples.append(RerankExample(key, query, [texts[p][0] for p in positives if p in texts],
                                      [texts[p][0] for p in negatives if p in texts and texts[p][1] not in same]))
    return examples


def _groups(examples: list[RerankExample], config: RerankConfig, rng: random.Random) -> list[list[tuple[str, list[str]]]]:
    """This epoch's batches: per question (answer, negatives...), shuffled."""
    groups = []
    for ex in examples:
        if not ex.negatives:
            continue
        k = min(config.group_size - 1, len(ex.negatives))
        groups.append((ex.question, [rng.choice(ex.positives)] + rng.sample(ex.negatives, k)))
    rng.shuffle(groups)
    n = config.questions_per_batch
    return [groups[i : i + n] for i in range(0, len(groups), n)]


def train_reranker(base_dir: Path, examples: list[RerankExample], config: RerankConfig | None = None,
                   progress: Callable[[str], None] | None = None):
    """A cross-encoder from the first `config.layers` layers of the model at `base_dir`; returns
    (module, tokenizer, losses per epoch)."""
    import torch
    from transformers import AutoTokenizer

    config = config or RerankConfig()
    if not any(ex.negatives for ex in examples):
        raise ValueError("nothing to train a reranker on: no question has a high-ranked wrong passage")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    backbone = truncated_backbone(base_dir, config.layers)
    module = build_module(torch, backbone)
    if config.freeze_embeddings:
        module.backbone.embeddings.word_embeddings.weight.requires_grad = False
    trainable = [w for w in module.parameters() if w.requires_grad]
    steps = config.epochs * len(_groups(examples, config, random.Random(0)))
    optimizer, schedule = adamw_with_warmup(torch, trainable, config.learning_rate, steps, config.warmup)
    losses, started = [], time.perf_counter()
    for epoch in range(config.epochs):
        module.train()
        total = seen = 0
        for batch in _groups(examples, config, rng):
            firsts = [q for q, cands in batch for _ in cands]
            seconds = [c for _, cands in batch for c in cands]
            enc = tokenizer(firsts, seconds, truncation="only_second", max_length=config.max_length,
                            padding=True, return_tensors="pt")
            logits = module(enc["input_ids"], enc["attention_mask"])
            loss, at = 0.0, 0
            for _, cands in batch:  # groups may be short (few negatives): one softmax per question
                loss = loss + torch.nn.functional.cross_entropy(logits[at : at + len(cands)].unsqueeze(0),
                                                                torch.zeros(1, dtype=torch.long))
                at += len(cands)
            total += take_step(optimizer, schedule, loss / len(batch)) * len(batch)
            seen += len(batch)
        losses.append(total / max(seen, 1))
        message = f"epoch {epoch + 1}/{config.epochs}: loss {losses[-1]:.3f}, {time.perf_counter() - started:.0f} s"
        log.info(message)
        if progress:
            progress(message)
    module.eval()
    return module, tokenizer, losses


def save_reranker(module, tokenizer, root: Path, name: str, record: dict) -> Path:
    """Write the reranker into `root/name` atomically: the truncated transformer, its tokenizer,
    the head and the training record."""
    record = {"format": FORMAT, "kind": "reranker", "name": name,
              "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **record}

    def fill(folder: Path) -> None:
        module.backbone.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        np.savez(folder / HEAD, weight=module.head.weight.detach().numpy(), bias=module.head.bias.detach().numpy())
        write_record(folder, RECORD, record)

    return write_folder(root, name, fill)


def score_examples(module, tokenizer, question: str, passages: list[str], max_length: int) -> np.ndarray:
    """Scores straight from a just-trained module (cross-validation needs no save/load round trip)."""
    import torch

    with torch.inference_mode():
        out = []
        for i in range(0, len(passages), 32):
            chunk = passages[i : i + 32]
            enc = tokenizer([question] * len(chunk), chunk, truncation="only_second", max_length=max_length,
                            padding=True, return_tensors="pt")
            out.append(module(enc["input_ids"], enc["attention_mask"]).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)
