"""index.firm.report_render on a hand-made Report (no model): missing values show as nothing, not "None"."""
from __future__ import annotations

import datetime as dt

from index.firm.gaps import GapGroup
from index.firm.report import CHINA_TZ, DayCount, Report
from index.firm.report_render import render_html, render_markdown


def _report(**over) -> Report:
    today = dt.date(2025, 3, 1)
    base = dict(
        generated_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=CHINA_TZ), days=1, start=today, end=today,
        total=2, weak=1, by_channel={"page": 2}, per_day=[DayCount(today, 2, 1)],
        gaps=[GapGroup(label="<b>房东不退押金</b>", count=1, examples=[], weak=1, disliked=0,
                       nearest_id="zf-yajin", nearest_title=None, nearest_weak=True)],
        top_opened=[], opened_questions=0, with_feedback=0, thumbs_up=0, index_version=None,
    )
    base.update(over)
    return Report(**base)


def test_a_missing_title_is_empty_in_the_html_not_none():
    page = render_html(_report())
    assert "None" not in page
    assert "<br><span class=\"meta\">zf-yajin</span>" in page  # the id is still shown
    assert "&lt;b&gt;房东不退押金&lt;/b&gt;" in page and "<b>房东" not in page


def test_markdown_escapes_logged_text_and_shows_nothing_for_none():
    text = render_markdown(_report())
    assert "\\<b\\>房东不退押金\\</b\\>" in text
    assert "None" not in text and "（zf-yajin）" in text
