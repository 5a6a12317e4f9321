"""`python -m index` with fault injection, for the crash tests only.

The production build never reads test switches; this wrapper adds a stage
listener (index.build.pipeline.STAGE_LISTENERS) and then runs the real CLI:

  LAWFAQ_TEST_PAUSE_AT=<stage>            sleep there (LAWFAQ_TEST_PAUSE_SECONDS, default 60)
                                          so a test can kill -9 the run;
  LAWFAQ_TEST_FAIL_AT=<stage>[:ENOSPC|EACCES]  raise the OSError a full disk or a
                                          permission problem would.
"""
from __future__ import annotations

import errno
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from index.__main__ import main  # noqa: E402  (the real entry point, not a copy)
from index.build import pipeline as build  # noqa: E402

log = logging.getLogger("tests.faults")


def inject(stage: str) -> None:
    if os.environ.get("LAWFAQ_TEST_PAUSE_AT") == stage:
        log.info("test hook: pausing at %s", stage)
        time.sleep(float(os.environ.get("LAWFAQ_TEST_PAUSE_SECONDS", "60")))
    fail = os.environ.get("LAWFAQ_TEST_FAIL_AT", "")
    if fail.split(":")[0] == stage:
        code = getattr(errno, fail.split(":")[1] if ":" in fail else "ENOSPC")
        raise OSError(code, os.strerror(code), f"<{stage}>")


if __name__ == "__main__":
    build.STAGE_LISTENERS.append(inject)
    sys.exit(main())
