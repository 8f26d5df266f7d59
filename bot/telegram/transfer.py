"""/export and /import: a chat's topics, own sources and settings as a file, and back.

An import is all or nothing: the file is read strictly (known keys and types, every query
parsed), every source is checked the way /addsource checks it, and only then is anything stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from telegram import Document, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.domain import UserError
from bot.render import texts
from bot.render.i18n import t, tn
from bot.storage.models import Topic
from bot.storage.store import QuotaExceeded
from bot.subscribers.sources import check_sources
from bot.subscribers.transfer import (
    IMPORT_MAX_BYTES,
    ImportPlan,
    ImportProblem,
    export_document,
    export_opml,
    own_sources,
    read_import,
)
from bot.telegram.common import thread_of
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import ensure_chat, language_of, may_change, reply, translated

log = logging.getLogger(__name__)

_IMPORT_CAPTION = re.compile(r"^/import(?:@(\w+))?(?:\s|$)")


async def export_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return
    stored = await asyncio.to_thread(services.store.get_chat, chat.id)
    topics = await asyncio.to_thread(services.store.list_topics, chat.id)
    own = own_sources(await asyncio.to_thread(services.store.sources_for_chat, chat.id))
    document = json.dumps(export_document(stored, topics, own), ensure_ascii=False, indent=2)
    await message.reply_document(
        document.encode("utf-8"),
        filename="summit-watch.json",
        caption=t(
            lang,
            "export.caption",
            topics=tn(lang, "counts.topics", len(topics)),
            sources=tn(lang, "counts.sources", len(own)),
        ),
        do_quote=False,
    )
    if own:
        await message.reply_document(
            export_opml(own).encode("utf-8"),
            filename="summit-watch-sources.opml",
            caption=t(lang, "export.opml_caption"),
            do_quote=False,
        )


def _import_document(message: Message) -> Document | None:
    if message.document is not None:
        return message.document
    if message.reply_to_message is not None:
        return message.reply_to_message.document
    return None


async def import_command(update: Update, context: BotContext) -> None:
    """/import as a file's caption, or in reply to a message with the file. All or nothing."""
    services = context.services
    lang = await language_of(update, services)
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    caption = _IMPORT_CAPTION.match(message.caption or "")
    if caption and caption[1] and caption[1].lower() != (context.bot.username or "").lower():
        return  # /import@another_bot
    if not await may_change(update, context):
        await reply(update, texts.not_admin(lang))
        return
    data = await _download(update, message, chat.id, lang)
    if data is None:
        return
    try:
        plan = await asyncio.to_thread(
            read_import,
            data,
            aliases=services.aliases,
            allow_private=services.settings.allow_private_networks,
        )
        plan.sources = await _checked_sources(services, plan)
    except ImportProblem as refusal:
        await reply(update, t(lang, "import.invalid", error=refusal.text(lang)))
        return
    search_language = await ensure_chat(update, services)
    language = plan.settings.get("language", search_language)
    searches = {
        query: services.search_urls(Topic(chat_id=chat.id, query=query), language)
        for query, _, _ in plan.topics
    }
    try:
        added, updated, linked = await asyncio.to_thread(
            services.store.import_chat_data,
            chat.id,
            topics=plan.topics,
            sources=plan.sources,
            settings=plan.settings,
            searches=searches,
            thread_id=thread_of(message),
            topic_limit=services.settings.max_topics_per_chat,
            source_limit=services.settings.max_sources_per_chat,
        )
    except QuotaExceeded as exc:
        over = ImportProblem(f"too_many_{exc.kind}", count=exc.count, limit=exc.limit)
        await reply(update, t(lang, "import.invalid", error=over.text(lang)))
        return
    services.on_topics_changed()
    lang = await language_of(update, services)  # the file may have chosen another language
    await reply(
        update,
        t(
            lang,
            "import.done",
            topics_added=tn(lang, "counts.new_topics", added),
            topics_updated=tn(lang, "counts.updated", updated),
            sources_added=tn(lang, "counts.new_sources", linked),
            settings=t(lang, "import.settings") if plan.settings else "",
        ),
    )


async def _download(update: Update, message: Message, chat_id: int, lang: str) -> bytes | None:
    """The attached file, or None with the reason already told: none, too big, or lost."""
    document = _import_document(message)
    if document is None:
        await reply(update, t(lang, "import.usage"))
        return None
    limit_kb = IMPORT_MAX_BYTES // 1024
    if (document.file_size or 0) > IMPORT_MAX_BYTES:
        await reply(update, t(lang, "import.too_big", limit=limit_kb))
        return None
    try:
        handle = await document.get_file()
        data = bytes(await handle.download_as_bytearray())
    except TelegramError as exc:
        log.info("import download failed in chat %s: %s", chat_id, exc)
        await reply(update, t(lang, "import.download_failed"))
        return None
    if len(data) > IMPORT_MAX_BYTES:
        await reply(update, t(lang, "import.too_big", limit=limit_kb))
        return None
    return data


async def _checked_sources(services: Services, plan: ImportPlan) -> list[tuple[str, str, str]]:
    """Each source checked exactly as /addsource checks it; the first refusal stops the import.

    Sources every chat already has are left out; the others are kept as the check found them
    (a page that names its feed becomes the feed)."""
    assert services.fetcher is not None and services.articles is not None
    kept: list[tuple[str, str, str]] = []
    wanted = []
    for url, name, kind in plan.sources:
        if await asyncio.to_thread(services.store.global_source, url) is None:
            wanted.append((url, name, kind))
    try:
        checks = await check_sources(
            services.fetcher,
            services.articles,
            [url for url, _, _ in wanted],
            allow_private=services.settings.allow_private_networks,
        )
    except UserError as refusal:
        raise ImportProblem("import_check.source", path="sources", reason=refusal) from None
    origins = dict(zip((url for url, _, _ in plan.sources), plan.origins, strict=True))
    for (url, name, _), found in zip(wanted, checks, strict=True):
        if isinstance(found, UserError):
            raise ImportProblem("import_check.source", path=origins[url], reason=found)
        kept.append((found.url, name or found.name, found.kind))
    return kept


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("export", translated(export_command)))
    application.add_handler(CommandHandler("import", translated(import_command)))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.Document.ALL
            & filters.CaptionRegex(_IMPORT_CAPTION.pattern),
            translated(import_command),
        )
    )
