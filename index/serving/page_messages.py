"""What the search page says about itself: build hints for operators, one line for visitors.

Kept out of `app.py` (which only lays out views) and free of Streamlit, so
the wording can be tested without a page. A visitor never reads a server
path, a command or a version stamp: those go to the server's log, and to the
page only for operators (LAWFAQ_SHOW_STATUS=1).
"""
from __future__ import annotations

import datetime as dt

from index.firm.report import CHINA_TZ

BUILD_HELP = (
    "还没有可用的索引。请先构建索引：在项目目录运行 `make run`（会自动构建并启动页面），"
    "或者运行 `python -m index build --source corpus --index {index}`，然后刷新本页。"
)
UNAVAILABLE = "搜索服务暂时不可用，请稍后再试。"


def explain_unavailable(error: str | None, detail: str, root: str) -> tuple[str, str]:
    """(what the operator reads, a further hint) when nothing can be searched.

    `error` is "notfound" when no index exists at `root`, else the message of what failed."""
    if error == "notfound":
        extra = detail if ("damaged" in detail or "cannot be opened" in detail) else ""
        return BUILD_HELP.format(index=root), extra
    return error or "索引无法打开。", f"重新构建：`python -m index build --full --source corpus --index {root}`"


def beijing_time(stamp: str | None) -> str:
    """An ISO time (UTC when it names no zone) as 北京时间, the clock the insights report reads too."""
    if not stamp:
        return "未知"
    try:
        when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return str(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）"
