"""/addsource and /removesource: a chat's own feeds and pages."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.domain import UserError
from bot.render import texts
from bot.render.problems import problem
from bot.sources.netguard import MAX_URL_LENGTH, with_scheme
from bot.storage.store import QuotaExceeded
from bot.subscribers.sources import check_source
from bot.telegram.context import BotContext
from bot.telegram.replies import change_with_argument, ensure_chat, reply


async def add_source(update: Update, context: BotContext) -> None:
    request = await change_with_argument(update, context, texts.addsource_usage)
    if request is None:
        return
    services, lang, wanted = request
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
    request = await change_with_argument(update, context, texts.removesource_usage)
    if request is None:
        return
    services, lang, wanted = request
    chat = update.effective_chat
    assert chat is not None
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
