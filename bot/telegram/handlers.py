"""Chat commands. Handlers only translate between Telegram and the domain."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from datetime import timedelta
from typing import Any

from telegram import ChatMember, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.domain import UserError, site_of
from bot.events.lifecycle import UntilError, split_until
from bot.match import MatchDoc, QueryError, match, parse_query
from bot.render import i18n, texts
from bot.render.event_texts import until_note
from bot.render.problems import problem, wording
from bot.sources.netguard import MAX_URL_LENGTH, with_scheme
from bot.storage.models import Chat, Topic, utcnow
from bot.storage.store import QuotaExceeded
from bot.subscribers.sources import check_source
from bot.subscribers.topics import MAX_QUERY_LENGTH, refuse_duplicate
from bot.telegram.context import BotContext, Services

log = logging.getLogger(__name__)

PREVIEW_HOURS = 72
GROUP_ANONYMOUS_BOT = 1087968824
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "″": '"'})


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def command_argument(update: Update) -> str:
    """The text after the command, with quotes kept (context.args would split phrases)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip().translate(_SMART_QUOTES) if len(parts) > 1 else ""


async def reply(update: Update, text: str) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_html(text, do_quote=False)


def translated(callback: Handler) -> Handler:
    """The reply path for UserError: the handler raises it, the chat reads it in its language."""

    @functools.wraps(callback)
    async def run(update: Update, context: BotContext) -> None:
        try:
            await callback(update, context)
        except UserError as error:
            lang = await language_of(update, context.services)
            await reply(update, i18n.t(lang, "errors_extra.problem", problem=problem(lang, error)))

    return run


async def ensure_chat(update: Update, services: Services) -> str:
    """Record the chat; returns its language."""
    chat = update.effective_chat
    if chat is None:
        return "en"
    user = update.effective_user
    stored = await asyncio.to_thread(
        services.store.ensure_chat,
        chat.id,
        type=chat.type,
        title=chat.title or chat.username or (user.full_name if user else ""),
        language=(user.language_code if user else None),
    )
    return stored.language


def reply_language(chat: Chat | None, user: User | None) -> str:
    """The chat's choice (/lang) if it made one, else the user's Telegram language."""
    if chat is not None and chat.language_chosen:
        return i18n.normalize(chat.language)
    if user is not None and user.language_code:
        return i18n.normalize(user.language_code)
    return i18n.normalize(chat.language if chat is not None else None)


async def language_of(update: Update, services: Services) -> str:
    chat = update.effective_chat
    stored = await asyncio.to_thread(services.store.get_chat, chat.id) if chat else None
    return reply_language(stored, update.effective_user)


async def create_topic(
    services: Services, chat_id: int, query: str, *, thread_id: int | None, search_language: str
) -> Topic:
    """Store a topic and back it with news-search feeds; QuotaExceeded at the chat's limit."""
    topic = await asyncio.to_thread(
        services.store.add_topic,
        chat_id,
        query,
        thread_id=thread_id,
        limit=services.settings.max_topics_per_chat,
    )
    for url, name in services.search_urls(topic, search_language):
        await asyncio.to_thread(
            services.store.add_chat_source,
            chat_id,
            url,
            name=name,
            kind="search",
            topic_id=topic.id,
        )
    services.on_topics_changed()
    return topic


async def forget_topic(services: Services, chat_id: int, wanted: str) -> Topic | None:
    """Remove a topic by number or text, and the news-search feeds only it needed."""
    topic = await asyncio.to_thread(services.store.remove_topic, chat_id, wanted[:MAX_QUERY_LENGTH])
    if topic is None:
        return None
    stored = await asyncio.to_thread(services.store.get_chat, chat_id)
    language = stored.language if stored else "en"
    remaining = await asyncio.to_thread(services.store.list_topics, chat_id)
    still_used = {url for other in remaining for url, _ in services.search_urls(other, language)}
    unused = [url for url, _ in services.search_urls(topic, language) if url not in still_used]
    if unused:
        await asyncio.to_thread(services.store.unlink_sources, chat_id, unused)
    services.on_topics_changed()
    return topic


async def sync_search_sources(services: Services, chat_id: int) -> None:
    """Link exactly the news-search feeds the chat's topics ask for."""
    stored = await asyncio.to_thread(services.store.get_chat, chat_id)
    language = stored.language if stored else "en"
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    wanted = {
        url: (name, topic.id)
        for topic in topics
        for url, name in services.search_urls(topic, language)
    }
    linked = {
        source.url
        for source in await asyncio.to_thread(services.store.sources_for_chat, chat_id)
        if source.kind == "search" and not source.is_global
    }
    for url, (name, topic_id) in wanted.items():
        if url not in linked:
            await asyncio.to_thread(
                services.store.add_chat_source,
                chat_id,
                url,
                name=name,
                kind="search",
                topic_id=topic_id,
            )
    extra = [url for url in linked if url not in wanted]
    if extra:
        await asyncio.to_thread(services.store.unlink_sources, chat_id, extra)


async def may_change(update: Update, context: BotContext) -> bool:
    """In groups only admins change watches; private chats belong to their user."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if (
        message is not None
        and message.sender_chat is not None
        and message.sender_chat.id == chat.id
    ):
        return True  # an anonymous admin posting as the group
    user = update.effective_user
    if user is None or user.id == GROUP_ANONYMOUS_BOT:
        return user is not None
    if chat.type == ChatType.CHANNEL:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        log.warning("admin check failed in chat %s", chat.id)
        return False
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


async def change_request(update: Update, context: BotContext) -> tuple[Services, str] | None:
    """Services and reply language for a command that changes the chat; None, with the
    refusal already sent, when the sender may not change it."""
    services = context.services
    lang = await language_of(update, services)
    if await may_change(update, context):
        return services, lang
    await reply(update, texts.not_admin(lang))
    return None


async def watch(update: Update, context: BotContext) -> None:
    allowed = await change_request(update, context)
    if allowed is None:
        return
    services, lang = allowed
    text = command_argument(update)
    if not text:
        await reply(update, texts.watch_usage(lang))
        return
    if len(text) > MAX_QUERY_LENGTH:
        await reply(update, texts.query_too_long(MAX_QUERY_LENGTH, lang))
        return
    try:
        text, until = split_until(text, utcnow().date())
    except UntilError:
        await reply(update, i18n.t(lang, "events.until_bad"))
        return
    try:
        query = parse_query(text, services.aliases)
    except QueryError as exc:
        await reply(update, texts.query_error(problem(lang, exc), lang))
        return
    language = await ensure_chat(update, services)
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    topics = await asyncio.to_thread(services.store.list_topics, chat.id)
    refuse_duplicate(topics, query, services.aliases)
    thread_id = (
        message.message_thread_id if message is not None and message.is_topic_message else None
    )
    try:
        topic = await create_topic(
            services, chat.id, query.text, thread_id=thread_id, search_language=language
        )
    except QuotaExceeded as exc:
        await reply(update, texts.quota_reached(exc, lang))
        return
    if until is not None and topic.id is not None:
        await asyncio.to_thread(
            services.store.update_topic,
            chat.id,
            topic.id,
            ends_on=until.ends_on,
            until_event=until.event,
        )
    await reply(
        update, texts.watching(topic, query.describe(wording(lang)), lang) + until_note(until, lang)
    )


async def unwatch(update: Update, context: BotContext) -> None:
    allowed = await change_request(update, context)
    if allowed is None:
        return
    services, lang = allowed
    wanted = command_argument(update)
    chat = update.effective_chat
    assert chat is not None
    if not wanted:
        topics = await asyncio.to_thread(services.store.list_topics, chat.id)
        await reply(update, texts.unwatch_which(topics, lang))
        return
    topic = await forget_topic(services, chat.id, wanted)
    if topic is None:
        await reply(update, texts.unwatch_missing(wanted, lang))
        return
    await reply(update, texts.unwatched(topic, lang))


async def add_source(update: Update, context: BotContext) -> None:
    allowed = await change_request(update, context)
    if allowed is None:
        return
    services, lang = allowed
    wanted = command_argument(update)
    if not wanted:
        await reply(update, texts.addsource_usage(lang))
        return
    assert services.fetcher is not None and services.articles is not None
    known = await asyncio.to_thread(services.store.global_source, with_scheme(wanted))
    if known is not None:
        await reply(update, texts.global_source("global_source.add", known, lang))
        return
    try:
        probe = await check_source(
            services.fetcher,
            services.articles,
            wanted,
            allow_private=services.settings.allow_private_networks,
        )
    except UserError as exc:
        await reply(update, texts.source_refused(problem(lang, exc), lang))
        return
    await ensure_chat(update, services)
    chat = update.effective_chat
    assert chat is not None
    known = await asyncio.to_thread(services.store.global_source, probe.url)
    if known is not None:
        await reply(update, texts.global_source("global_source.add", known, lang))
        return
    try:
        source, added = await asyncio.to_thread(
            services.store.add_chat_source,
            chat.id,
            probe.url,
            name=probe.name,
            kind=probe.kind,
            limit=services.settings.max_sources_per_chat,
        )
    except QuotaExceeded as exc:
        await reply(update, texts.quota_reached(exc, lang))
        return
    await reply(update, texts.source_added(source, probe.kind, probe.latest, added, lang))


async def remove_source(update: Update, context: BotContext) -> None:
    allowed = await change_request(update, context)
    if allowed is None:
        return
    services, lang = allowed
    wanted = command_argument(update)
    chat = update.effective_chat
    assert chat is not None
    if not wanted:
        await reply(update, texts.removesource_usage(lang))
        return
    source = await asyncio.to_thread(
        services.store.remove_chat_source, chat.id, wanted[:MAX_URL_LENGTH]
    )
    if source is None:
        known = await asyncio.to_thread(
            services.store.global_source, with_scheme(wanted[:MAX_URL_LENGTH])
        )
        if known is not None:
            await reply(update, texts.global_source("global_source.remove", known, lang))
            return
        await reply(update, texts.source_missing(wanted, lang))
        return
    if source.is_global:
        await reply(update, texts.global_source("global_source.remove", source, lang))
        return
    await reply(update, texts.source_removed(source, lang))


async def recent(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    chat = update.effective_chat
    assert chat is not None
    wanted = command_argument(update)
    topic_id = None
    if wanted:
        topics = await asyncio.to_thread(services.store.list_topics, chat.id)
        key = wanted.lstrip("#").casefold()
        match_ = next(
            (t for t in topics if str(t.number) == key or t.query.casefold() == key), None
        )
        if match_ is None:
            await reply(update, texts.unwatch_missing(wanted, lang))
            return
        topic_id = match_.id
    stories = await asyncio.to_thread(services.store.recent_stories, chat.id, topic_id)
    await reply(update, texts.recent_stories(stories, lang))


async def preview(update: Update, context: BotContext) -> None:
    """A dry run of a query over the last 72 h of stored items; nothing is saved."""
    services = context.services
    lang = await language_of(update, services)
    text = command_argument(update)
    if not text:
        await reply(update, texts.preview_usage(lang))
        return
    try:
        query = parse_query(text[:MAX_QUERY_LENGTH], services.aliases)
    except QueryError as exc:
        await reply(update, texts.query_error(problem(lang, exc), lang))
        return
    items = await asyncio.to_thread(
        services.store.items_since, utcnow() - timedelta(hours=PREVIEW_HOURS)
    )
    hits = [
        item
        for item in items
        if match(query, MatchDoc(item.title, item.summary, site_of(item.url), item.language))
    ]
    understood = query.describe(wording(lang))
    await reply(update, texts.preview_result(understood, hits, len(items), PREVIEW_HOURS, lang))


async def button(update: Update, context: BotContext) -> None:
    """Alert buttons. Every press is answered; stale or forged data gets a polite refusal."""
    services = context.services
    press = update.callback_query
    if press is None:
        return
    chat = update.effective_chat
    action, _, raw_id = (press.data or "").partition(":")
    lang = await language_of(update, services)
    answer = texts.button_expired(lang)
    if chat is not None and raw_id.isdigit() and len(raw_id) < 19:
        if action in ("mute", "nr") and not await may_change(update, context):
            # In a group both speak for everyone, so only its admins may press them.
            answer = i18n.t(lang, "buttons.not_admin")
        elif action == "mute":
            until = utcnow() + timedelta(hours=24)
            topic = await asyncio.to_thread(services.store.mute_topic, chat.id, int(raw_id), until)
            if topic is not None:
                services.on_topics_changed()
                answer = texts.muted(topic, lang)
        elif action == "nr":
            row = await asyncio.to_thread(services.store.mark_not_relevant, chat.id, int(raw_id))
            if row is not None:
                answer = texts.not_relevant_noted(lang)
    with suppress(TelegramError):
        await press.answer(answer)


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, texts.unknown_command(await language_of(update, context.services)))


async def plain_text(update: Update, context: BotContext) -> None:
    await reply(update, texts.plain_text_hint(await language_of(update, context.services)))


async def on_error(update: object, context: BotContext) -> None:
    what = "update" if isinstance(update, Update) else "job"
    log.error("%s failed: %s", what, context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        user = update.effective_user
        text = i18n.t(i18n.normalize(user.language_code if user else None), "errors.generic")
        with suppress(TelegramError):
            await update.effective_message.reply_text(text)


COMMAND_HANDLERS: dict[str, Handler] = {
    "watch": watch,
    "unwatch": unwatch,
    "addsource": add_source,
    "removesource": remove_source,
    "recent": recent,
    "preview": preview,
}
