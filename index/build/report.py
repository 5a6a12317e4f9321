"""What one build run tells its caller (and INDEX/report.json): outcome, counts, timings, exit code."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_LOCKED = 0, 1, 2, 3


@dataclass
class BuildReport:
    status: str = "failed"  # published | unchanged | refused | failed | locked
    message: str = ""
    version: str | None = None
    previous_version: str | None = None
    articles_total: int = 0
    articles_added: int = 0
    articles_changed: int = 0
    articles_removed: int = 0
    articles_unchanged: int = 0
    passages_total: int = 0
    passages_embedded: int = 0
    passages_reused: int = 0
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    started_at: str = ""

    @property
    def exit_code(self) -> int:
        return {"published": EXIT_OK, "unchanged": EXIT_OK, "refused": EXIT_REFUSED, "locked": EXIT_LOCKED}.get(
            self.status, EXIT_FAILED
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d
