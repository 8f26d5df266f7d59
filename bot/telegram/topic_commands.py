"""/watch, /unwatch, /recent and /preview, and the news-search feeds that back a chat's topics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram import Update

from bot.domain import site_of
from bot.events.lifecycle import UntilError, split_until
from bot.match import MatchDoc, QueryError, match, parse_query
from bot.render import i18n, texts
from bot.render.event_texts import until_note
from bot.render.problems import problem, wording
from bot.storage.models import Topic, utcnow
from bot.storage.store import QuotaExceeded
from bot.subscribers.topics import MAX_QUERY_LENGTH, refuse_duplicate
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import (
    change_request,
    change_with_argument,
    command_argument,
    ensure_chat,
    language_of,
    reply,
)

PREVIEW_HOURS = 72


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
        await _link_search(services, chat_id, url, name, topic.id)
    services.on_topics_changed()
    return topic


async def _link_search(
    services: Services, chat_id: int, url: str, name: str, topic_id: int | None
) -> None:
    await asyncio.to_thread(
        services.store.add_chat_source, chat_id, url, name=name, kind="search", topic_id=topic_id
    )


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
            await _link_search(services, chat_id, url, name, topic_id)
    extra = [url for url in linked if url not in wanted]
    if extra:
        await asyncio.to_thread(services.store.unlink_sources, chat_id, extra)


async def watch(update: Update, context: BotContext) -> None:
    request = await change_with_argument(update, context, texts.watch_usage)
    if request is None:
        return
    services, lang, text = request
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
