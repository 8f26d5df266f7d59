"""Reply texts (Telegram HTML). Anything that came from a user or a feed goes through escape().

The wording lives in the catalogs of `bot.render.i18n` (locales/en.toml, locales/ru.toml);
every function takes the reply language as `lang` (English when omitted).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.render.format import escape, safe_link, shorten
from bot.render.i18n import has, t, tn
from bot.storage.models import Item, Source, Story, Topic, utcnow
from bot.storage.rows import QuotaExceeded

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
    ("story", "A story's reports, newest first (the latest alert's without a number)", "/story"),
    ("mode", "Instant alerts or an hourly/daily digest for a topic", "/mode 1 daily"),
    ("tz", "Your time zone, for quiet hours and digests", "/tz Asia/Kolkata"),
    ("quiet", "Quiet hours: silent, or held until they end", "/quiet 23:00-07:00 hold"),
    ("digest", "When the daily digest arrives (local time)", "/digest 08:00"),
    ("settings", "Language, time zone, quiet hours and digest time, with buttons", "/settings"),
    ("search", "News-search feeds for a topic, on or off", "/search 1 off"),
    ("upcoming", "Announced meetings for your topics, soonest first", "/upcoming 1"),
    ("calendar", "Those meetings as a calendar file and a subscription link", "/calendar"),
    ("preview", "Try a query on the last 72 hours without saving it", "/preview Putin Modi summit"),
    ("lang", "Reply language: English, Russian or Hindi", "/lang hi"),
    ("translate", "Alerts in other languages, translated into yours", "/translate on"),
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


def command_example(name: str, example: str, lang: str = "en") -> str:
    """An example is a command line, except where it explains in words how to send it."""
    key = f"help_extra.{name}_example"
    return t(lang, key) if has(key) else example


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
                example=escape(command_example(name, example, lang)),
            )
            for name, about, example in commands
        ]

    parts = [t(lang, "help.title"), *lines(COMMANDS)]
    if operator:
        parts += ["", t(lang, "help.operators"), *lines(OPERATOR_COMMANDS)]
    return "\n".join(parts) + "\n\n" + query_syntax(lang)


def watch_usage(lang: str = "en") -> str:
    return t(lang, "watch.usage") + "\n\n" + query_syntax(lang)


def query_error(message_html: str, lang: str = "en") -> str:
    """A query's problem, already in `lang` and escaped, with the syntax help."""
    return t(lang, "watch.query_error", message=message_html) + "\n\n" + query_syntax(lang)


def query_too_long(limit: int, lang: str = "en") -> str:
    return query_error(t(lang, "watch.too_long", limit=limit), lang)


def watching(topic: Topic, understood: str, lang: str = "en") -> str:
    return t(
        lang,
        "watch.watching",
        id=topic.number,
        query=escape(topic.query),
        understood=escape(understood),
    )


def muted_until(topic: Topic) -> datetime | None:
    """When a "Mute 24 h" ends, if it has not ended yet."""
    until = topic.muted_until
    if until is None:
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return until if until > utcnow() else None


def topic_line(topic: Topic, lang: str = "en") -> str:
    mode = topic.mode if topic.mode in ("instant", "hourly", "daily") else "instant"
    state = "" if topic.active else t(lang, "list.paused")
    until = muted_until(topic)
    if until is not None:
        state += t(lang, "mute.line", until=until.strftime(t(lang, "mute.until_format")))
    return t(
        lang,
        "list.line",
        id=topic.number,
        query=escape(shorten(topic.query, 300)),
        mode=t(lang, f"modes.{mode}"),
        paused=state + _until(topic, lang),
    )


def _until(topic: Topic, lang: str) -> str:
    if topic.ends_on is not None:
        return t(lang, "events.list_until", day=topic.ends_on.isoformat())
    return t(lang, "events.list_until_event") if topic.until_event else ""


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
    return t(lang, "unwatch.done", id=topic.number, query=escape(topic.query))


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


def source_refused(reason_html: str, lang: str = "en") -> str:
    """Why an address can't be a source, already in `lang` and escaped."""
    return t(lang, "addsource.refused", reason=reason_html)


def global_source(key: str, source: Source, lang: str = "en") -> str:
    """A source every chat already has: nothing to add or remove here."""
    return t(lang, key, name=escape(shorten(source.name or source.url, 80)))


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


def quota_reached(error: QuotaExceeded, lang: str = "en") -> str:
    key = "addsource.quota" if error.kind == "sources" else "watch.quota"
    return t(lang, key, count=error.limit)


def source_missing(wanted: str, lang: str = "en") -> str:
    return t(lang, "removesource.missing", wanted=escape(shorten(wanted, 100)))


def source_removed(source: Source, lang: str = "en") -> str:
    return t(lang, "removesource.removed", name=escape(shorten(source.name or source.url, 80)))


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
    return t(lang, "alert.muted", id=topic.number)


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
