"""The /list keyboard: pause, delivery mode and removal of each topic, page by page."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.render import texts
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.storage.models import Topic
from bot.subscribers.topics import MODES
from bot.telegram.common import (
    LETTER_MODE,
    LIST_DATA,
    MODE_LETTER,
    NEXT_MODE,
    PAGE_SIZE,
    edit,
    is_channel_admin,
    is_private,
    send,
)
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import language_of, may_change
from bot.telegram.topic_commands import forget_topic

log = logging.getLogger(__name__)


# -- /list and its buttons -----------------------------------------------------------------


def _list_data(action: str, number: int, page: int, argument: str, target: int | None) -> str:
    return f"n:{action}:{number}:{page}:{argument}:{'' if target is None else target}"


def list_view(
    topics: Sequence[Topic],
    page: int,
    lang: str,
    *,
    target: int | None = None,
    title: str | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of a chat's topics, with a row of buttons per topic.

    `target` is a channel's id when its topics are managed from a private chat.
    """
    pages = max(1, math.ceil(len(topics) / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = list(topics[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])
    text = texts.topics_list(shown, lang, title=title)
    if not topics:
        if title:
            text = title + "\n" + text
        return text, None
    if pages > 1:
        text += "\n" + t(lang, "list.page", page=page + 1, pages=pages)
    rows: list[list[InlineKeyboardButton]] = []
    for topic in shown:
        assert topic.number is not None
        mode = topic.mode if topic.mode in MODES else "instant"
        if topic.active and texts.muted_until(topic) is None:
            toggle = InlineKeyboardButton(
                t(lang, "buttons.pause", id=topic.number),
                callback_data=_list_data("a", topic.number, page, "0", target),
            )
        else:
            toggle = InlineKeyboardButton(
                t(lang, "buttons.resume", id=topic.number),
                callback_data=_list_data("a", topic.number, page, "1", target),
            )
        switch = InlineKeyboardButton(
            t(lang, f"buttons.{mode}"),
            callback_data=_list_data("m", topic.number, page, MODE_LETTER[NEXT_MODE[mode]], target),
        )
        remove = InlineKeyboardButton(
            t(lang, "buttons.remove"), callback_data=_list_data("r", topic.number, page, "", target)
        )
        rows.append([toggle, switch, remove])
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(
                InlineKeyboardButton(
                    t(lang, "buttons.previous"),
                    callback_data=_list_data("l", 0, page - 1, "", target),
                )
            )
        if page < pages - 1:
            nav.append(
                InlineKeyboardButton(
                    t(lang, "buttons.next"), callback_data=_list_data("l", 0, page + 1, "", target)
                )
            )
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows)


def confirm_view(
    topic: Topic, page: int, lang: str, target: int | None
) -> tuple[str, InlineKeyboardMarkup]:
    assert topic.number is not None
    text = t(lang, "list.confirm", id=topic.number, query=escape(shorten(topic.query, 300)))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "buttons.yes"),
                    callback_data=_list_data("y", topic.number, page, "", target),
                ),
                InlineKeyboardButton(
                    t(lang, "buttons.no"), callback_data=_list_data("l", 0, page, "", target)
                ),
            ]
        ]
    )
    return text, markup


async def list_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    chat = update.effective_chat
    assert chat is not None
    topics = await asyncio.to_thread(services.store.list_topics, chat.id)
    title = None if is_private(update) else t(lang, "titles.group_topics")
    text, markup = list_view(topics, 0, lang, title=title)
    await send(update, text, markup)


async def list_pressed(update: Update, context: BotContext) -> None:
    """A /list button. Every press is answered; stale or forged data: "expired"."""
    press = update.callback_query
    if press is None:
        return
    services = context.services
    lang = await language_of(update, services)
    answer: str | None = t(lang, "buttons.expired")
    try:
        answer = await _list_action(update, context, services, lang)
    finally:
        with suppress(TelegramError):
            await press.answer(answer)


async def _list_action(
    update: Update, context: BotContext, services: Services, lang: str
) -> str | None:
    expired = t(lang, "buttons.expired")
    press = update.callback_query
    chat = update.effective_chat
    user = update.effective_user
    assert press is not None
    found = LIST_DATA.fullmatch(press.data or "")
    if found is None or chat is None or user is None or press.message is None:
        return expired
    action, number, page, argument = found[1], int(found[2]), int(found[3]), found[4]
    target: int | None = int(found[5]) if found[5] else None
    title: str | None = None
    if target is not None:
        # A channel's topics, managed from the private chat of one of its admins.
        stored = await asyncio.to_thread(services.store.get_chat, target)
        if chat.type != ChatType.PRIVATE or stored is None or stored.type != "channel":
            return expired
        if not await is_channel_admin(context.bot, target, user.id):
            return t(lang, "buttons.not_admin")
        chat_id = target
        title = t(lang, "list.channel_title", title=escape(shorten(stored.title, 80)))
    else:
        if not await may_change(update, context):
            return t(lang, "buttons.not_admin")
        chat_id = chat.id
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    topic = next((x for x in topics if x.number == number), None)
    answer: str | None = None
    if action == "l":
        pass
    elif topic is None or topic.id is None:
        return expired
    elif action == "a" and argument in ("0", "1"):
        # Resume also lifts a "Mute 24 h": the topic is then live again in every way.
        values: dict[str, Any] = {"active": argument == "1"}
        if argument == "1":
            values["muted_until"] = None
        changed = await asyncio.to_thread(services.store.update_topic, chat_id, topic.id, **values)
        if changed is None:
            return expired
        services.on_topics_changed()
        answer = t(lang, "answers.resumed" if changed.active else "answers.paused", id=number)
    elif action == "m" and argument in LETTER_MODE:
        mode = LETTER_MODE[argument]
        changed = await asyncio.to_thread(services.store.update_topic, chat_id, topic.id, mode=mode)
        if changed is None:
            return expired
        services.on_topics_changed()
        answer = t(lang, "answers.mode", id=number, mode=t(lang, f"modes.{mode}"))
    elif action == "r" and not argument:
        question, buttons = confirm_view(topic, page, lang, target)
        if not await edit(context, press.message, question, buttons):
            return expired
        return t(lang, "answers.confirm", id=number)
    elif action == "y" and not argument:
        if await forget_topic(services, chat_id, str(number)) is None:
            return expired
        answer = t(lang, "answers.removed", id=number)
    else:
        return expired
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    text, markup = list_view(topics, page, lang, target=target, title=title)
    await edit(context, press.message, text, markup)
    return answer
