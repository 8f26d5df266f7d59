"""/sources and /status as pages: the chat's number for each source, and friendly reasons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.render.format import escape, shorten
from bot.render.i18n import t, tn
from bot.render.problems import problem, stored_problem
from bot.render.texts import ago, until
from bot.storage.models import Source

SOURCES_PER_PAGE = 20
STATUS_PER_PAGE = 8
MAX_PAGES = 50  # a chat has at most MAX_SOURCES_PER_CHAT sources of its own plus the global list

Numbered = tuple[Source, int | None]


@dataclass(frozen=True)
class Page:
    text: str
    page: int  # 0-based, after clamping
    pages: int


def _scope(source: Source, number: int | None, lang: str) -> str:
    scope = t(lang, f"sources.{source.kind}") if source.kind in ("search", "page") else ""
    return scope + ("" if number is None else f" #{number}")


def reason(source: Source, lang: str) -> str:
    return problem(lang, stored_problem(source.last_error or ""))


def source_line(source: Source, number: int | None, lang: str) -> str:
    name = escape(shorten(source.name or source.url, 60))
    if source.retired:
        health = t(lang, "sources.gone")
    elif source.error_streak:
        count = tn(lang, "counts.failures", source.error_streak)
        health = t(lang, "sources.failing", count=count, reason=reason(source, lang))
    elif source.last_success_at:
        health = t(lang, "sources.checked", ago=ago(source.last_success_at, lang))
    else:
        health = t(lang, "sources.not_checked")
    return t(lang, "sources.line", name=name, scope=_scope(source, number, lang), health=health)


def status_lines(source: Source, number: int | None, lang: str) -> list[str]:
    name = escape(shorten(source.name or source.url, 60)) + _scope(source, number, lang)
    share = f"{source.not_modified_count / source.polls:.0%}" if source.polls else "–"
    lines = [
        t(
            lang,
            "status.line",
            name=name,
            success=ago(source.last_success_at, lang),
            errors=source.error_streak,
            share=share,
            next=until(source.next_check_at, lang),
        )
    ]
    if source.last_error:
        lines.append(
            t(
                lang,
                "status.last_error",
                ago=ago(source.last_error_at, lang),
                reason=reason(source, lang),
            )
        )
    return lines


def _window(total: int, per_page: int, page: int) -> tuple[int, int]:
    pages = min(MAX_PAGES, max(1, math.ceil(total / per_page)))
    return min(max(page, 0), pages - 1), pages


def sources_page(sources: Sequence[Numbered], page: int, lang: str) -> Page:
    if not sources:
        return Page(t(lang, "sources.none"), 0, 1)
    page, pages = _window(len(sources), SOURCES_PER_PAGE, page)
    shown = sources[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]
    lines = [t(lang, "sources.title"), *(source_line(s, n, lang) for s, n in shown)]
    if pages > 1:
        lines.append(t(lang, "list.page", page=page + 1, pages=pages))
    return Page("\n".join(lines), page, pages)


def status_page(
    sources: Sequence[Numbered],
    page: int,
    lang: str,
    *,
    notes: Mapping[int, str] | None = None,
    header: str = "",
) -> Page:
    """`notes`: lines under a source (push, burst mode, alert delay); `header` goes first."""
    if not sources:
        return Page(t(lang, "sources.none"), 0, 1)
    page, pages = _window(len(sources), STATUS_PER_PAGE, page)
    lines = [header + t(lang, "status.title")]
    for source, number in sources[page * STATUS_PER_PAGE : (page + 1) * STATUS_PER_PAGE]:
        lines += status_lines(source, number, lang)
        note = notes.get(source.id or 0) if notes else None
        if note:
            lines.append(note)
    if pages > 1:
        lines.append(t(lang, "list.page", page=page + 1, pages=pages))
    return Page("\n".join(lines), page, pages)
