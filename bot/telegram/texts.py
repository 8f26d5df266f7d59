"""Reply texts (Telegram HTML). Anything that came from a user or a feed goes through escape().

The wording lives in the catalogs of `bot.telegram.i18n` (locales/en.toml, locales/ru.toml);
every function takes the reply language as `lang` (English when omitted).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.storage.models import Item, Source, Story, Topic, utcnow
from bot.telegram.format import escape, safe_link, shorten
from bot.telegram.i18n import has, t, tn

EXAMPLE_QUERY = "Putin Modi (summit OR visit) -cricket"
LIST_BUDGET = 3500

# (name, English description, example). Descriptions in other languages come from the
# catalogs' [commands] table; a command without a catalog entry keeps the English one.
COMMANDS: list[tuple[str, str, str]] = [
    ("start", "Welcome, a quick example and starter topics", "/start"),
    ("help", "Every command, with examples", "/help"),
    ("watch", "Watch a topic", f"/watch {EXAMPLE_QUERY}"),
    ("unwatch", "Stop watching a topic (by number or text)", "/unwatch 1"),
    ("list", "Your topics, with buttons to pause, switch or remove", "/list"),
    ("sources", "The sources that are checked, with their health", "/sources"),
    ("addsource", "Add a feed, a page or a site for this chat", "/addsource thehindu.com"),
    ("removesource", "Remove one of this chat's sources", "/removesource 12"),
    ("status", "Each source's last check, errors and next check", "/status"),
    ("recent", "The last 10 stories for a topic, with their outlet counts", "/recent 1"),
    ("mode", "Instant alerts or an hourly/daily digest for a topic", "/mode 1 daily"),
    ("tz", "Your time zone, for quiet hours and digests", "/tz Asia/Kolkata"),
    ("quiet", "Quiet hours: silent, or held until they end", "/quiet 23:00-07:00 hold"),
    ("digest", "When the daily digest arrives (local time)", "/digest 08:00"),
    ("search", "News-search feeds for a topic, on or off", "/search 1 off"),
    ("preview", "Try a query on the last 72 hours without saving it", "/preview Putin Modi summit"),
    ("lang", "Reply language: English or Russian", "/lang ru"),
    ("channel", "Post alerts to a channel you run", "/channel @mychannel watch BRICS summit"),
    ("export", "Download your topics, sources and settings", "/export"),
    (
        "import",
        "Restore them from an export file or an OPML list",
        "/import (as the file's caption)",
    ),
]
# Only for the operators in ADMIN_IDS: shown in their menu and help, unknown to everyone else.
OPERATOR_COMMANDS: list[tuple[str, str, str]] = [
    ("stats", "Operators: how the bot is doing", "/stats"),
    ("broadcast", "Operators: send a message to every chat", "/broadcast Maintenance at 22:00 UTC"),
]


def command_description(name: str, english: str, lang: str = "en") -> str:
    key = f"commands.{name}"
    return t(lang, key) if has(key) else english


def query_syntax(lang: str = "en") -> str:
    return t(lang, "help.syntax")


QUERY_SYNTAX = query_syntax()


def linked(url: str, title_html: str) -> str:
    link = safe_link(url)
    return f'<a href="{escape(link)}">{title_html}</a>' if link else title_html


def welcome(first_name: str, lang: str = "en") -> str:
    name = escape(shorten(first_name, 64)) if first_name else t(lang, "welcome.there")
    return t(lang, "welcome.text", name=name, example=escape(EXAMPLE_QUERY))


def help_text(lang: str = "en", *, operator: bool = False) -> str:
    def lines(commands: Sequence[tuple[str, str, str]]) -> list[str]:
        return [
            t(
                lang,
                "help.line",
                name=name,
                about=escape(command_description(name, about, lang)),
                example=escape(example),
            )
            for name, about, example in commands
        ]

    parts = [t(lang, "help.title"), *lines(COMMANDS)]
    if operator:
        parts += ["", t(lang, "help.operators"), *lines(OPERATOR_COMMANDS)]
    return "\n".join(parts) + "\n\n" + query_syntax(lang)


def watch_usage(lang: str = "en") -> str:
    return t(lang, "watch.usage") + "\n\n" + query_syntax(lang)


def query_error(message: str, lang: str = "en") -> str:
    return t(lang, "watch.query_error", message=escape(message)) + "\n\n" + query_syntax(lang)


def query_too_long(limit: int, lang: str = "en") -> str:
    return query_error(t(lang, "watch.too_long", limit=limit), lang)


def watching(topic: Topic, understood: str, lang: str = "en") -> str:
    return t(
        lang,
        "watch.watching",
        id=topic.id,
        query=escape(topic.query),
        understood=escape(understood),
    )


def topic_line(topic: Topic, lang: str = "en") -> str:
    mode = topic.mode if topic.mode in ("instant", "hourly", "daily") else "instant"
    return t(
        lang,
        "list.line",
        id=topic.id,
        query=escape(shorten(topic.query, 300)),
        mode=t(lang, f"modes.{mode}"),
        paused="" if topic.active else t(lang, "list.paused"),
    )


def topics_list(topics: Sequence[Topic], lang: str = "en", *, title: str | None = None) -> str:
    """The chat's topics as text; `title` (HTML) replaces the heading, e.g. for a channel."""
    if not topics:
        return t(lang, "list.empty", example=escape(EXAMPLE_QUERY))
    lines = [title or t(lang, "list.title")]
    size = len(lines[0])
    for topic in topics:
        line = topic_line(topic, lang)
        size += len(line) + 1
        if size > LIST_BUDGET:  # stay well inside Telegram's 4096 characters
            lines.append("…")
            break
        lines.append(line)
    lines.append("\n" + t(lang, "list.hint"))
    return "\n".join(lines)


def unwatched(topic: Topic, lang: str = "en") -> str:
    return t(lang, "unwatch.done", id=topic.id, query=escape(topic.query))


def unwatch_missing(wanted: str, lang: str = "en") -> str:
    return t(lang, "unwatch.missing", wanted=escape(shorten(wanted, 100)))


def unwatch_which(topics: Sequence[Topic], lang: str = "en") -> str:
    return t(lang, "unwatch.which") + "\n\n" + topics_list(topics, lang)


def duration(seconds: int, lang: str = "en") -> str:
    if seconds < 90:
        return t(lang, "time.seconds", n=seconds)
    if seconds < 5400:
        return t(lang, "time.minutes", n=seconds // 60)
    if seconds < 48 * 3600:
        return t(lang, "time.hours", n=seconds // 3600)
    return t(lang, "time.days", n=seconds // 86400)


def ago(moment: datetime | None, lang: str = "en") -> str:
    if moment is None:
        return t(lang, "time.never")
    return t(
        lang, "time.ago", when=duration(max(0, int((utcnow() - moment).total_seconds())), lang)
    )


def source_line(source: Source, lang: str = "en") -> str:
    name = escape(shorten(source.name or source.url, 60))
    if source.retired:
        health = t(lang, "sources.gone")
    elif source.error_streak:
        reason = escape(shorten(source.last_error or "", 80))
        health = t(lang, "sources.failing", count=source.error_streak, reason=reason)
    elif source.last_success_at:
        health = t(lang, "sources.checked", ago=ago(source.last_success_at, lang))
    else:
        health = t(lang, "sources.not_checked")
    scope = t(lang, f"sources.{source.kind}") if source.kind in ("search", "page") else ""
    scope += "" if source.is_global else f" #{source.id}"
    return t(lang, "sources.line", name=name, scope=scope, health=health)


def sources_list(sources: Sequence[Source], lang: str = "en") -> str:
    if not sources:
        return t(lang, "sources.none")
    return (
        t(lang, "sources.title")
        + "\n"
        + "\n".join(source_line(source, lang) for source in sources[:50])
    )


def not_admin(lang: str = "en") -> str:
    return t(lang, "errors.not_admin")


def unknown_command(lang: str = "en") -> str:
    return t(lang, "errors.unknown_command")


def plain_text_hint(lang: str = "en") -> str:
    return t(lang, "errors.plain_text")


NOT_ADMIN = not_admin()
UNKNOWN_COMMAND = unknown_command()
PLAIN_TEXT_HINT = plain_text_hint()


def addsource_usage(lang: str = "en") -> str:
    return t(lang, "addsource.usage")


def removesource_usage(lang: str = "en") -> str:
    return t(lang, "removesource.usage")


ADDSOURCE_USAGE = addsource_usage()
REMOVESOURCE_USAGE = removesource_usage()


def source_refused(reason: str, lang: str = "en") -> str:
    return t(lang, "addsource.refused", reason=escape(shorten(reason, 200)))


def source_added(
    source: Source, kind: str, latest: Sequence[str], added: bool, lang: str = "en"
) -> str:
    what = t(lang, f"addsource.{kind}") if kind in ("feed", "page") else escape(kind)
    head = t(lang, "addsource.added" if added else "addsource.already")
    name = escape(shorten(source.name or source.url, 80))
    lines = [t(lang, "addsource.head", head=head, name=name, what=what)]
    if latest:
        lines.append(t(lang, "addsource.latest"))
        lines += [f"• {escape(shorten(title, 120))}" for title in latest[:3]]
    lines.append(t(lang, "addsource.note"))
    return "\n".join(lines)


def topic_quota(count: int, lang: str = "en") -> str:
    return t(lang, "watch.quota", count=count)


def source_quota(count: int, lang: str = "en") -> str:
    return t(lang, "addsource.quota", count=count)


def source_missing(wanted: str, lang: str = "en") -> str:
    return t(lang, "removesource.missing", wanted=escape(shorten(wanted, 100)))


def source_removed(source: Source, lang: str = "en") -> str:
    return t(lang, "removesource.removed", name=escape(shorten(source.name or source.url, 80)))


def status_report(sources: Sequence[Source], lang: str = "en") -> str:
    if not sources:
        return t(lang, "sources.none")
    lines = [t(lang, "status.title")]
    for source in sources[:30]:
        name = escape(shorten(source.name or source.url, 60))
        share = f"{source.not_modified_count / source.polls:.0%}" if source.polls else "–"
        lines.append(
            t(
                lang,
                "status.line",
                name=name,
                success=ago(source.last_success_at, lang),
                errors=source.error_streak,
                share=share,
                next=until(source.next_check_at, lang),
            )
        )
        if source.last_error:
            reason = escape(shorten(source.last_error, 100))
            lines.append(
                t(lang, "status.last_error", ago=ago(source.last_error_at, lang), reason=reason)
            )
    return "\n".join(lines)


def until(moment: datetime | None, lang: str = "en") -> str:
    if moment is None:
        return t(lang, "time.unknown")
    seconds = int((moment - utcnow()).total_seconds())
    if seconds <= 0:
        return t(lang, "time.due_now")
    return t(lang, "time.in", when=duration(seconds, lang))


def source_gone(source: Source, lang: str = "en") -> str:
    name = escape(shorten(source.name or source.url, 80))
    return t(lang, "sources.gone_for_good", name=name)


def preview_usage(lang: str = "en") -> str:
    return t(lang, "preview.usage")


PREVIEW_USAGE = preview_usage()
BUTTON_EXPIRED = t("en", "buttons.expired")
NOT_RELEVANT_NOTED = t("en", "alert.not_relevant")


def button_expired(lang: str = "en") -> str:
    return t(lang, "buttons.expired")


def not_relevant_noted(lang: str = "en") -> str:
    return t(lang, "alert.not_relevant")


def muted(topic: Topic, lang: str = "en") -> str:
    return t(lang, "alert.muted", id=topic.id)


def recent_stories(stories: Sequence[tuple[Story, int]], lang: str = "en") -> str:
    if not stories:
        return t(lang, "recent.none")
    lines = [t(lang, "recent.title")]
    for story, outlets in stories:
        title = escape(shorten(story.title, 120))
        count = tn(lang, "recent.outlets", outlets)
        lines.append(t(lang, "recent.line", link=linked(story.url, title), outlets=count))
    return "\n".join(lines)


def preview_result(
    understood: str, hits: Sequence[Item], total: int, hours: int, lang: str = "en"
) -> str:
    head = t(
        lang,
        "preview.head",
        understood=escape(understood),
        hits=len(hits),
        total=total,
        hours=hours,
    )
    if not hits:
        return head + t(lang, "preview.none")
    lines = [head]
    for item in hits[:10]:
        lines.append(f"• {linked(item.url, escape(shorten(item.title, 120)))}")
    return "\n".join(lines)
