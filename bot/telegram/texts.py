"""Reply texts (Telegram HTML). Anything that came from a user or a feed goes through escape()."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.storage.models import Item, Source, Story, Topic, utcnow
from bot.telegram.format import escape, safe_link, shorten

EXAMPLE_QUERY = "Putin Modi (summit OR visit) -cricket"

COMMANDS: list[tuple[str, str, str]] = [
    ("start", "Welcome and a quick example", "/start"),
    ("help", "Every command, with examples", "/help"),
    ("watch", "Watch a topic", f"/watch {EXAMPLE_QUERY}"),
    ("unwatch", "Stop watching a topic (by number or text)", "/unwatch 1"),
    ("list", "Your watched topics", "/list"),
    ("sources", "The sources that are checked, with their health", "/sources"),
    ("addsource", "Add a feed, a page or a site for this chat", "/addsource thehindu.com"),
    ("removesource", "Remove one of this chat's sources", "/removesource 12"),
    ("status", "Each source's last check, errors and next check", "/status"),
    ("recent", "The last 10 stories for a topic, with their outlet counts", "/recent 1"),
    ("mode", "Instant alerts or an hourly/daily digest for a topic", "/mode 1 daily"),
    ("tz", "Your time zone, for quiet hours and digests", "/tz Asia/Kolkata"),
    ("quiet", "Quiet hours: silent, or held until they end", "/quiet 23:00-07:00 hold"),
    ("digest", "When the daily digest arrives (local time)", "/digest 08:00"),
    ("preview", "Try a query on the last 72 hours without saving it", "/preview Putin Modi summit"),
]

QUERY_SYNTAX = (
    "<b>How to write a topic</b>\n"
    "• <code>Putin Modi summit</code>: all words must appear\n"
    '• <code>"state visit"</code>: an exact phrase\n'
    "• <code>summit OR visit</code>: either word\n"
    "• <code>-cricket</code> or <code>NOT cricket</code>: leave out items with this word\n"
    "• <code>( … )</code>: group, e.g. <code>Putin Modi (summit OR visit)</code>\n"
    "• <code>Путин*</code>: any word starting with it\n"
    "• <code>title:summit</code>, <code>site:thehindu.com</code>, <code>lang:ru</code>: filters"
)


def linked(url: str, title_html: str) -> str:
    link = safe_link(url)
    return f'<a href="{escape(link)}">{title_html}</a>' if link else title_html


def welcome(first_name: str) -> str:
    name = escape(shorten(first_name, 64)) if first_name else "there"
    return (
        f"Hello, {name}! I watch the news for you and send <b>one short alert per story</b>, "
        "minutes after an outlet publishes it. No feed URLs needed: tell me a topic.\n\n"
        f"Try: <code>/watch {escape(EXAMPLE_QUERY)}</code>\n\n"
        "/help lists every command."
    )


def help_text() -> str:
    lines = ["<b>Commands</b>"]
    lines += [
        f"/{name}: {escape(about)}\n   <code>{escape(example)}</code>"
        for name, about, example in COMMANDS
    ]
    return "\n".join(lines) + "\n\n" + QUERY_SYNTAX


def watch_usage() -> str:
    return (
        "Tell me what to watch, for example:\n<code>/watch Putin Modi summit</code>\n\n"
        + QUERY_SYNTAX
    )


def query_error(message: str) -> str:
    return f"⚠️ {escape(message)}\nNothing was saved.\n\n" + QUERY_SYNTAX


def watching(topic: Topic, understood: str) -> str:
    return (
        f"✅ Watching topic #{topic.id}: <code>{escape(topic.query)}</code>\n"
        f"I read it as: {escape(understood)}\n"
        "You will get one alert per new story. /list shows your topics."
    )


def topics_list(topics: Sequence[Topic]) -> str:
    if not topics:
        return (
            "You are not watching anything yet.\n"
            + f"Try: <code>/watch {escape(EXAMPLE_QUERY)}</code>"
        )
    lines = ["<b>Your topics</b>"]
    for topic in topics:
        state = "" if topic.active else " (paused)"
        lines.append(f"#{topic.id} <code>{escape(topic.query)}</code>{state}")
    lines.append("\nStop one with <code>/unwatch NUMBER</code>.")
    return "\n".join(lines)


def unwatched(topic: Topic) -> str:
    return f"🗑 Stopped watching #{topic.id}: <code>{escape(topic.query)}</code>"


def unwatch_missing(wanted: str) -> str:
    wanted_html = escape(shorten(wanted, 100))
    return f"I found no topic <code>{wanted_html}</code> here. /list shows your topics."


def duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return duration(max(0, int((utcnow() - moment).total_seconds()))) + " ago"


def source_line(source: Source) -> str:
    name = escape(shorten(source.name or source.url, 60))
    if source.retired:
        health = "❌ gone"
    elif source.error_streak:
        reason = escape(shorten(source.last_error or "", 80))
        health = f"⚠️ {source.error_streak} failure(s) in a row: {reason}"
    elif source.last_success_at:
        health = f"✅ checked {ago(source.last_success_at)}"
    else:
        health = "⏳ not checked yet"
    scope = {"search": " (news search)", "page": " (page)"}.get(source.kind, "")
    scope += "" if source.is_global else f" #{source.id}"
    return f"• {name}{scope}: {health}"


def sources_list(sources: Sequence[Source]) -> str:
    if not sources:
        return "No sources are configured yet."
    return "<b>Sources</b>\n" + "\n".join(source_line(source) for source in sources[:50])


NOT_ADMIN = "Only this group's admins can change its watches."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."
PLAIN_TEXT_HINT = (
    "To watch a topic, send <code>/watch</code> and the words, "
    "e.g. <code>/watch Putin Modi summit</code>."
)


ADDSOURCE_USAGE = (
    "Send a feed, a page or a site, e.g. <code>/addsource https://www.thehindu.com</code>. "
    "I find its feed, or watch the page for new articles."
)
REMOVESOURCE_USAGE = "Which one? <code>/removesource NUMBER</code> (numbers are in /sources)."


def source_refused(reason: str) -> str:
    return f"⚠️ I can't use that source: {escape(shorten(reason, 200))}\nNothing was added."


def source_added(source: Source, kind: str, latest: Sequence[str], added: bool) -> str:
    what = {"feed": "a feed", "page": "a web page (watched for new article links)"}.get(kind, kind)
    head = "✅ Added" if added else "This chat already has"
    lines = [f"{head} <b>{escape(shorten(source.name or source.url, 80))}</b>: {what}."]
    if latest:
        lines.append("Latest:")
        lines += [f"• {escape(shorten(title, 120))}" for title in latest[:3]]
    lines.append("New items will be matched against this chat's topics.")
    return "\n".join(lines)


def source_missing(wanted: str) -> str:
    return f"This chat has no source <code>{escape(shorten(wanted, 100))}</code>. See /sources."


def source_removed(source: Source) -> str:
    return f"🗑 Removed <b>{escape(shorten(source.name or source.url, 80))}</b>."


def status_report(sources: Sequence[Source]) -> str:
    if not sources:
        return "No sources are configured yet."
    lines = ["<b>Source status</b>"]
    for source in sources[:30]:
        name = escape(shorten(source.name or source.url, 60))
        share = f"{source.not_modified_count / source.polls:.0%}" if source.polls else "–"
        lines.append(
            f"<b>{name}</b>\n  last success: {ago(source.last_success_at)}; "
            f"errors in a row: {source.error_streak}; 304 share: {share}\n"
            f"  next check: {until(source.next_check_at)}"
        )
        if source.last_error:
            reason = escape(shorten(source.last_error, 100))
            lines.append(f"  last error ({ago(source.last_error_at)}): {reason}")
    return "\n".join(lines)


def until(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    seconds = int((moment - utcnow()).total_seconds())
    return "due now" if seconds <= 0 else "in " + duration(seconds)


def source_gone(source: Source) -> str:
    name = escape(shorten(source.name or source.url, 80))
    return (
        f"❌ The source <b>{name}</b> says it is gone for good (410), so I stopped checking it. "
        "/sources lists the rest; /addsource adds another."
    )


PREVIEW_USAGE = (
    "Send a query to try, e.g. <code>/preview Putin Modi summit</code>. Nothing is saved."
)
BUTTON_EXPIRED = "This button has expired."
NOT_RELEVANT_NOTED = "Noted: no more updates on this story."


def muted(topic: Topic) -> str:
    return f"Topic #{topic.id} is muted for 24 hours."


def recent_stories(stories: Sequence[tuple[Story, int]]) -> str:
    if not stories:
        return "No stories yet. They appear here once alerts have been sent."
    lines = ["<b>Recent stories</b>"]
    for story, outlets in stories:
        title = escape(shorten(story.title, 120))
        count = f"{outlets} outlet{'s' if outlets != 1 else ''}"
        lines.append(f"• {linked(story.url, title)} ({count})")
    return "\n".join(lines)


def preview_result(understood: str, hits: Sequence[Item], total: int, hours: int) -> str:
    head = (
        f"I read it as: {escape(understood)}\n"
        f"<b>{len(hits)}</b> of {total} items from the last {hours} h match."
    )
    if not hits:
        return head + " Try fewer words, OR, or a prefix*."
    lines = [head]
    for item in hits[:10]:
        lines.append(f"• {linked(item.url, escape(shorten(item.title, 120)))}")
    return "\n".join(lines)
