"""A story's timeline as Telegram HTML: every report with its outlet, time and link, newest
first, one page at a time. Everything from feeds is escaped here."""

from __future__ import annotations

from bot.render.format import MAX_MESSAGE, escape, format_time, safe_link, shorten, visible_length
from bot.render.i18n import t, tn
from bot.storage.stories import Timeline

PAGE = 10  # reports per page
MAX_REPORT_TITLE = 160
MAX_OUTLET = 60


def pages(total: int) -> int:
    return max(1, -(-total // PAGE))


def timeline_text(timeline: Timeline, page: int, lang: str = "en") -> str:
    """One page of the timeline; `page` counts from 0 and is clamped to the pages there are."""
    count = pages(timeline.total)
    page = max(0, min(page, count - 1))
    header = t(
        lang,
        "story.header",
        id=timeline.story_id,
        title=escape(shorten(timeline.title, 200) or "(untitled)"),
    )
    summary = tn(lang, "story.reports", timeline.total)
    if count > 1:
        summary += " · " + t(lang, "story.page", page=page + 1, pages=count)
    lines = [header, f"<i>{summary}</i>", ""]
    for entry in timeline.entries[:PAGE]:
        title = escape(shorten(entry.title, MAX_REPORT_TITLE) or "(untitled)")
        link = safe_link(entry.url)
        headline = f'<a href="{escape(link)}">{title}</a>' if link else title
        meta = " · ".join(
            part
            for part in (escape(shorten(entry.outlet, MAX_OUTLET)), format_time(entry.published))
            if part
        )
        line = f"• {headline}\n  <i>{meta}</i>" if meta else f"• {headline}"
        if visible_length("\n".join([*lines, line])) > MAX_MESSAGE - 100:
            break
        lines.append(line)
    if not timeline.entries:
        lines.append(t(lang, "story.empty"))
    return "\n".join(lines)
