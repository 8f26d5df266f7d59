"""/status lines about push, burst mode and alert delays."""

from __future__ import annotations

from bot.push.status import SpeedReport
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.render.texts import duration


def burst_header(report: SpeedReport, interval: float, lang: str = "en") -> str:
    if not report.bursting_topics:
        return ""
    topics = ", ".join(f"<b>{escape(shorten(q, 60))}</b>" for q in report.bursting_topics[:5])
    return t(lang, "push.burst", topics=topics, interval=duration(int(interval), lang)) + "\n\n"


def source_notes(report: SpeedReport, interval: float, lang: str = "en") -> dict[int, str]:
    """One or more indented lines per source, keyed by source id."""
    notes: dict[int, str] = {}
    for source_id, speed in report.sources.items():
        lines = []
        if speed.pushed:
            lines.append(t(lang, "push.pushed"))
        if speed.bursting:
            every = duration(int(speed.burst_interval(interval)), lang)
            lines.append(t(lang, "push.bursting", interval=every))
        if speed.median_delay is not None:
            lines.append(t(lang, "push.delay", delay=duration(round(speed.median_delay), lang)))
        if lines:
            notes[source_id] = "\n".join(lines)
    return notes
