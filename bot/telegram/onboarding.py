"""Starter topics on /start, /help and /lang: the first things a new chat meets."""

from __future__ import annotations

import asyncio
import logging
import tomllib
import zlib
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.match import Aliases, QueryError, parse_query
from bot.render import i18n, texts
from bot.render.format import shorten
from bot.render.i18n import t
from bot.render.problems import wording
from bot.storage.store import QuotaExceeded
from bot.subscribers.topics import MAX_QUERY_LENGTH
from bot.telegram.common import (
    MAX_STARTER_TITLE,
    MAX_STARTERS,
    START_DATA,
    STARTERS,
    is_operator,
    is_private,
    send,
    thread_of,
)
from bot.telegram.context import BotContext
from bot.telegram.replies import command_argument, ensure_chat, language_of, may_change, reply
from bot.telegram.topic_commands import create_topic

log = logging.getLogger(__name__)


# -- starter topics ------------------------------------------------------------------------


@dataclass(frozen=True)
class StarterTopic:
    title: str
    query: str
    titles: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.titles.get(lang, self.title)

    @property
    def tag(self) -> str:
        """Ties a button to its query, so a button from an older file set is refused."""
        return f"{zlib.crc32(self.query.encode('utf-8')):08x}"


def load_starter_topics(path: Path, aliases: Aliases | None = None) -> list[StarterTopic]:
    """The `[[topics]]` of a starter file; entries that are not valid are logged and skipped."""
    if not path.exists():
        return []
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("starter topics not loaded from %s: %s", path, exc)
        return []
    found: list[StarterTopic] = []
    for number, entry in enumerate(data.get("topics", []), start=1):
        title = entry.get("title") if isinstance(entry, dict) else None
        query = entry.get("query") if isinstance(entry, dict) else None
        if not isinstance(title, str) or not isinstance(query, str) or not title.strip():
            log.warning("starter topic %d in %s needs a title and a query", number, path)
            continue
        try:
            parsed = parse_query(query[:MAX_QUERY_LENGTH], aliases)
        except QueryError as exc:
            log.warning("starter topic %d in %s: %s", number, path, exc)
            continue
        titles = {
            lang: shorten(str(entry[f"title_{lang}"]), MAX_STARTER_TITLE)
            for lang in i18n.LANGUAGES
            if isinstance(entry.get(f"title_{lang}"), str)
        }
        found.append(StarterTopic(shorten(title, MAX_STARTER_TITLE), parsed.text, titles))
    return found[:MAX_STARTERS]


def _starters(context: BotContext) -> list[StarterTopic]:
    starters = context.bot_data.get(STARTERS, [])
    assert isinstance(starters, list)
    return starters


# -- /start, /help, /lang ------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    services = context.services
    await ensure_chat(update, services)
    lang = await language_of(update, services)
    user = update.effective_user
    text = texts.welcome(user.first_name if user else "", lang)
    markup = None
    starters = _starters(context)
    if starters:
        text += "\n\n" + t(lang, "welcome.starters")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        starter.label(lang), callback_data=f"start:{i}:{starter.tag}"
                    )
                ]
                for i, starter in enumerate(starters)
            ]
        )
    await send(update, text, markup)


async def starter_pressed(update: Update, context: BotContext) -> None:
    """A starter-topic button: watch its query here. Every press is answered."""
    press = update.callback_query
    if press is None:
        return
    services = context.services
    lang = await language_of(update, services)
    answer = t(lang, "buttons.expired")
    try:
        found = START_DATA.fullmatch(press.data or "")
        starters = _starters(context)
        chat = update.effective_chat
        if found is None or chat is None or int(found[1]) >= len(starters):
            return
        starter = starters[int(found[1])]
        if starter.tag != found[2]:
            return
        if not await may_change(update, context):
            answer = t(lang, "buttons.not_admin")
            return
        search_language = await ensure_chat(update, services)
        topics = await asyncio.to_thread(services.store.list_topics, chat.id)
        same = next((x for x in topics if x.query.casefold() == starter.query.casefold()), None)
        if same is not None:
            answer = t(lang, "welcome.already", id=same.number)
            return
        query = parse_query(starter.query, services.aliases)
        thread_id = thread_of(press.message if isinstance(press.message, Message) else None)
        try:
            topic = await create_topic(
                services, chat.id, query.text, thread_id=thread_id, search_language=search_language
            )
        except QuotaExceeded as exc:
            answer = texts.quota_reached(exc, lang)
            return
        answer = t(lang, "welcome.started", title=starter.label(lang))
        try:
            await context.bot.send_message(
                chat.id,
                texts.watching(topic, query.describe(wording(lang)), lang),
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
            )
        except TelegramError as exc:  # the topic is watched; the answer says so already
            log.info("starter confirmation in chat %s not sent: %s", chat.id, exc)
    finally:
        with suppress(TelegramError):
            await press.answer(shorten(answer, 190))


async def help_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    operator = is_operator(update, services) and is_private(update)
    await reply(update, texts.help_text(lang, operator=operator))


async def lang_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    wanted = command_argument(update).lower()
    chat = update.effective_chat
    if chat is None:
        return
    if wanted not in (*i18n.LANGUAGES, "auto"):
        await reply(update, t(lang, "lang.usage", current=i18n.NAMES[lang]))
        return
    if not await may_change(update, context):
        await reply(update, texts.not_admin(lang))
        return
    await ensure_chat(update, services)
    if wanted == "auto":
        await asyncio.to_thread(services.store.update_chat, chat.id, language_chosen=False)
        await reply(update, t(await language_of(update, services), "lang.auto"))
        return
    await asyncio.to_thread(
        services.store.update_chat, chat.id, language=wanted, language_chosen=True
    )
    await reply(update, t(wanted, "lang.set"))
