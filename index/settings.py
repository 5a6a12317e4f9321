"""Every ``LAWFAQ_*`` setting, read in one place.

The page, the JSON API, the CLI, the nightly job and notebooks all call
`settings()`; nothing else in the code reads the environment for a LAWFAQ_
setting. A typo in a number is a clear error naming the variable, not a
silent default. The settings table in docs/settings.md lists the same names (a test
checks that every name here is documented there).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from ingest.load import DEFAULT_MAX_BYTES

DEFAULT_INDEX = "var/index"


class SettingsError(ValueError):
    """A LAWFAQ_* variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """The configuration of one process; field docs say what each variable does."""

    index: str = DEFAULT_INDEX  # LAWFAQ_INDEX: the index directory the page, API and CLI serve
    model: str = ""  # LAWFAQ_MODEL: a local SentenceTransformer folder instead of the bundled e5
    model_name: str = ""  # LAWFAQ_MODEL_NAME: the name recorded in the manifest for LAWFAQ_MODEL
    query_prompt: str | None = None  # LAWFAQ_QUERY_PROMPT: the model's query instruction
    passage_prompt: str | None = None  # LAWFAQ_PASSAGE_PROMPT: the model's passage instruction
    cache: str = ""  # LAWFAQ_CACHE: where rebuilt models live (default ~/.cache/lawfaq)
    encoder: str = "int8"  # LAWFAQ_ENCODER: int8 (ONNX Runtime, the default) or fp32 (torch)
    query_model: str = ""  # LAWFAQ_QUERY_MODEL: a query tower from `index train` (folder or name); "" = the base model
    query_adapter: str = ""  # LAWFAQ_QUERY_ADAPTER: "" the shipped lay-question adapter, "off" the base model, or an .npz
    torch_threads: int = 1  # LAWFAQ_TORCH_THREADS: torch threads of a serving process (page, API, CLI search)
    search_slots: int = 0  # LAWFAQ_SEARCH_SLOTS: searches one process runs at once, the rest wait their turn (0: one per usable core, plus one)
    max_bytes: int = DEFAULT_MAX_BYTES  # LAWFAQ_MAX_BYTES: larger files and pages are skipped
    public_url: str = ""  # LAWFAQ_PUBLIC_URL: base of the page, for absolute article links
    show_status: int = 0  # LAWFAQ_SHOW_STATUS: 1 shows operators the index status and build hints on the page
    query_log: str = ""  # LAWFAQ_QUERY_LOG: SQLite file of the question log ("off" disables it)
    log_retention_days: int = 90  # LAWFAQ_LOG_RETENTION_DAYS: questions older than this are deleted
    cors_origins: str = ""  # LAWFAQ_CORS_ORIGINS: comma-separated origins allowed to call the API
    rate_limit: int = 60  # LAWFAQ_RATE_LIMIT: API requests per client per minute (0: no limit)
    backend: str = "faiss"  # LAWFAQ_BACKEND: where `index build` writes vectors and BM25: faiss or milvus
    milvus_uri: str = ""  # LAWFAQ_MILVUS_URI: a local milvus-lite file (*.db) or http://host:19530

    @property
    def cache_dir(self) -> Path:
        base = self.cache or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lawfaq"
        )
        return Path(base)

    @property
    def search_slot_count(self) -> int:
        """`search_slots`, or when it is 0 the cores this process may use, plus one.

        Why one more than the cores: a search hands its core back several times
        (to ONNX Runtime, FAISS, SQLite) and a slot handed to a sleeping waiter
        takes a wake-up to be used; a third search ready to run fills that gap.
        On 2 cores three slots beat two, and a fourth added no throughput and
        a higher p95 (measured: docs/decisions/serving-concurrency-screens.md).
        """
        if self.search_slots:
            return self.search_slots
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        return max(1, cores) + 1

    @property
    def query_log_path(self) -> Path | None:
        """The question log's file, or None when the log is switched off."""
        if switched_off(self.query_log):
            return None
        if self.query_log:
            return Path(self.query_log)
        return Path(self.index) / "query_log.sqlite"


def switched_off(value: str) -> bool:
    """A setting that names a file or a choice, set to say "none of it" (LAWFAQ_QUERY_LOG, LAWFAQ_QUERY_ADAPTER)."""
    return value.strip().lower() in ("off", "0", "false", "no", "none")


ENCODERS = ("int8", "fp32")  # LAWFAQ_ENCODER: how the model runs (index.encoders.factory); the first is the default
BACKENDS = ("faiss", "milvus")  # LAWFAQ_BACKEND / `build --backend`: where vectors and BM25 live; the first is the default
ENV_NAMES: dict[str, str] = {f.name: "LAWFAQ_" + f.name.upper() for f in fields(Settings)}


def settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(ENV_NAMES[f.name])
        if raw is None:
            continue
        if f.type == "int":
            try:
                values[f.name] = int(raw.strip())
            except ValueError:
                raise SettingsError(f"{ENV_NAMES[f.name]} must be a whole number, not {raw!r}") from None
            if values[f.name] < 0:  # type: ignore[operator]
                raise SettingsError(f"{ENV_NAMES[f.name]} must not be negative, not {raw!r}")
        elif f.type == "str":
            values[f.name] = raw.strip() if f.name not in ("query_prompt", "passage_prompt") else raw
        else:
            values[f.name] = raw
    if values.get("encoder", ENCODERS[0]) not in ENCODERS:
        raise SettingsError(f"LAWFAQ_ENCODER must be {' or '.join(ENCODERS)}, not {values['encoder']!r}")
    if values.get("backend", BACKENDS[0]) not in BACKENDS:
        raise SettingsError(f"LAWFAQ_BACKEND must be {' or '.join(BACKENDS)}, not {values['backend']!r}")
    if values.get("torch_threads") == 0:
        values["torch_threads"] = 1
    return Settings(**values)  # type: ignore[arg-type]
