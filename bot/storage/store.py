"""All database reads and writes, one part per table group over `StoreBase`. Methods are
synchronous and short; async callers use to_thread."""

from __future__ import annotations

from bot.storage.admin_rows import AdminRows
from bot.storage.chats_rows import ChatRows
from bot.storage.folding_rows import FoldRows
from bot.storage.outbox_rows import OutboxRows
from bot.storage.rows import (
    STORY_FOLD_LOCK,
    STORY_WINDOW,
    WAITING,
    ActiveTopic,
    AlertDraft,
    Alerts,
    Candidate,
    FoldRule,
    Gauges,
    Ingested,
    NewItem,
    OutboxRow,
    PollRecord,
    QuotaExceeded,
)
from bot.storage.sources_rows import SourceRows
from bot.storage.topics_rows import TopicRows


class Store(ChatRows, TopicRows, SourceRows, FoldRows, OutboxRows, AdminRows):
    """The store: every table group's reads and writes, over one engine."""


__all__ = [
    "STORY_FOLD_LOCK",
    "STORY_WINDOW",
    "WAITING",
    "ActiveTopic",
    "AlertDraft",
    "Alerts",
    "Candidate",
    "FoldRule",
    "Gauges",
    "Ingested",
    "NewItem",
    "OutboxRow",
    "PollRecord",
    "QuotaExceeded",
    "Store",
]
