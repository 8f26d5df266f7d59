"""The /settings card: what a chat has chosen about language and time."""

from __future__ import annotations

from bot.render import i18n
from bot.render.format import escape
from bot.render.i18n import t, tn
from bot.storage.models import Chat

ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "America/New_York",
    "America/Los_Angeles",
)
QUIET = (
    None,
    ("22:00", "07:00", "silent"),
    ("23:00", "07:00", "silent"),
    ("23:00", "07:00", "hold"),
)
DIGEST_TIMES = ("06:00", "07:00", "08:00", "09:00", "12:00", "18:00", "20:00", "21:00")


def quiet_label(start: str | None, end: str | None, mode: str, lang: str) -> str:
    if not start or not end:
        return t(lang, "settings.quiet_none")
    how = "hold" if mode == "hold" else "silent"
    return t(lang, f"settings.quiet_{how}", start=escape(start), end=escape(end))


def settings_text(chat: Chat, topics: int, reply_lang: str) -> str:
    language = i18n.NAMES[i18n.normalize(chat.language)]
    if not chat.language_chosen:
        language = t(reply_lang, "settings.auto_language", language=i18n.NAMES[reply_lang])
    body = t(
        reply_lang,
        "settings.body",
        language=language,
        zone=escape(chat.timezone),
        quiet=quiet_label(chat.quiet_start, chat.quiet_end, chat.quiet_mode, reply_lang),
        digest=escape(chat.digest_time),
        topics=tn(reply_lang, "counts.topics", topics),
    )
    return "\n".join([t(reply_lang, "settings.title"), body, "", t(reply_lang, "settings.hint")])
