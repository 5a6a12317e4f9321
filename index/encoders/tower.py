"""Serving with a trained query tower: passages keep the index's model, questions use the tower.

`python -m index train` fits a query encoder against the passage vectors an
index already holds (index/training). Setting ``LAWFAQ_QUERY_MODEL`` to its
folder (or its name under ``LAWFAQ_CACHE/trained``) makes the page, the API,
the CLI and the nightly job's smoke queries encode questions with it, while
passages are still embedded with the model the index was built with — so
nothing is re-embedded and unsetting the variable goes straight back to the
base model. The tower's learned fusion weights travel with it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from index.encoders.base import ModelInfo, ModelUnavailable, QueryEncoder
from index.encoders.int8 import EXPORT_VERSION, int8_embedder
from index.encoders.model import Embedder
from index.encoders.records import read_record, trained_root


class QueryTunedEmbedder:
    """The Embedder interface with two encoders: `passages` (the index's model) and `queries` (the tower)."""

    def __init__(self, passages, queries, record: dict, folder: Path, tower=None):
        self.passages = passages
        self.queries = queries
        self.tower = tower if tower is not None else queries  # the fp32 tower itself
        self.record = record
        self.folder = folder
        self.name = passages.name  # the index's model: what manifests record and check
        self.model_dir = passages.model_dir
        self.query_prompt, self.passage_prompt = passages.query_prompt, passages.passage_prompt
        self.trained_folder: Path | None = folder  # its answered questions (index.search.answered)
        self.trained_record: dict | None = record  # its fusion weights (index.search.config.learned_fusion)
        # the base model's question encoder: the "no good match" floors were calibrated on its cosines
        self.judge: QueryEncoder = passages

    @property
    def checksum(self) -> str:
        return self.passages.checksum

    @property
    def dim(self) -> int:
        return self.passages.dim

    def info(self) -> ModelInfo:
        return self.passages.info()

    def query_model(self) -> dict:
        """What `status` shows: the tower's name, folder and what it was trained on."""
        return {"name": self.record.get("name"), "path": str(self.folder),
                "trained_on": self.record.get("training", {}).get("pairs"),
                "cross_validation": self.record.get("cross_validation", {}).get("summary")}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self.queries is self.tower:
            return self.queries.encode_queries(texts)
        # One at a time: a tower's int8 graph can drop the padding mask (traced on an unpadded batch),
        # so only unpadded inputs are exact; a search encodes one question anyway.
        return np.concatenate([self.queries.encode_queries([t]) for t in texts]) if texts else \
            self.queries.encode_queries(texts)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self.passages.encode_passages(texts, show_progress=show_progress)

    def token_count(self, text: str, prompt: str = "") -> int:
        return self.passages.token_count(text, prompt)

    def set_query_threads(self, threads: int) -> None:
        self.queries.set_query_threads(threads)


def resolve_query_model(value: str, cache_dir: Path) -> Path:
    """A folder path, or the name of a tower under `cache_dir/trained`."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    named = trained_root(cache_dir) / value
    if named.is_dir():
        return named
    raise ValueError(f"LAWFAQ_QUERY_MODEL={value}: no such folder, and no trained tower of that name in "
                     f"{trained_root(cache_dir)} (train one with `python -m index train`)")


def query_tuned(passages, folder: Path, encoder: str) -> QueryTunedEmbedder:
    """Pair `passages` (the configured embedder) with the tower in `folder`, refusing a mismatch."""
    try:
        record = read_record(folder)
    except ValueError as exc:
        raise ModelUnavailable(str(exc)) from None
    want = record["index_model"]
    if want["checksum"] != passages.checksum:
        raise ModelUnavailable(
            f"query tower {folder} was trained against passage vectors of '{want.get('name')}' "
            f"(checksum {want['checksum']}), but the configured model is '{passages.name}' "
            f"(checksum {passages.checksum}). Train a tower for this index (python -m index train) "
            "or unset LAWFAQ_QUERY_MODEL."
        )
    tower = Embedder(folder, name=record.get("name"))
    queries = tower if encoder == "fp32" else _int8_if_faithful(
        tower, int8_embedder(tower, folder / f".int8-{EXPORT_VERSION}"))
    return QueryTunedEmbedder(passages, queries, record, folder, tower)


# Questions of every kind the firm gets, for checking an int8 export against its fp32 tower.
SAMPLE_QUESTIONS = (
    "网贷逾期三个月会被起诉吗", "被公司辞退能拿多少补偿", "离婚后孩子抚养权归谁", "交通事故对方全责怎么索赔",
    "房东不退押金怎么办", "借钱不还可以报警吗", "工伤认定需要哪些材料", "遗产继承兄弟姐妹有份吗",
    "买房定金可以退吗", "试用期可以随便辞退吗", "老板拖欠工资去哪里投诉", "婚前买的房子离婚要分吗",
    "被狗咬了主人要赔多少", "信用卡逾期会坐牢吗", "个体工商户的债务谁来还", "劳动合同到期不续签有补偿吗",
    "邻居装修噪音扰民怎么处理", "网购买到假货怎么维权", "酒驾被抓会怎么处罚", "合同没有盖章有效吗",
    "父母去世没有遗嘱房子怎么分", "公司不交社保可以辞职吗", "被人打了轻伤怎么处理", "催收爆通讯录违法吗",
    "高空抛物砸伤人谁负责", "夫妻共同债务怎么认定", "未成年人打赏的钱能退吗", "物业费不交会怎么样",
    "民法典第1032条规定了什么", "刑法第293条寻衅滋事怎么判",
)
# Median cosine, int8 export vs fp32 tower, one question at a time. The base model's export and a trained
# tower's export measured above this floor, and serving a tower in int8 barely moved the shipped set's hybrid
# quality against the fp32 tower; below it, a graph has drifted (measured: docs/decisions/quantization-screens.md).
MIN_AGREEMENT = 0.98


def _int8_if_faithful(tower, int8):
    """The int8 export, if it answers like the fp32 tower; else the fp32 tower itself, with a warning.

    Measured once per export, one question at a time as searches encode them,
    kept beside it: if a graph ever drifted from its tower, the tower's
    cross-validated figures (scored in fp32) would not be what the page serves.
    (Found this way: a tower's export ignored the padding mask of batched inputs
    — traced on an unpadded dummy batch — and agreed with its tower one question
    at a time but not in batches (docs/decisions/quantization-screens.md); hence
    `QueryTunedEmbedder` encodes one question per run. Export v2 traces a padded mask, so the check guards against what else may drift.)
    """
    import json
    import logging

    path = int8.folder / "agreement-v2.json"
    try:
        agreement = json.loads(path.read_text())["median_cosine"]
    except (OSError, ValueError, KeyError):
        questions = list(SAMPLE_QUESTIONS)
        served = np.concatenate([int8.encode_queries([q]) for q in questions])  # as a search encodes them
        agreement = float(np.median(np.sum(tower.encode_queries(questions) * served, axis=1)))
        path.write_text(json.dumps({"median_cosine": agreement, "questions": len(questions), "one_at_a_time": True}))
    if agreement < MIN_AGREEMENT:
        logging.getLogger(__name__).warning(
            "query tower %s: its int8 export agrees with it only to median cosine %.3f (< %.2f); "
            "questions are encoded in fp32 (torch) instead", tower.model_dir, agreement, MIN_AGREEMENT)
        return tower
    return int8
