"""Alerts queued straight into the outbox, as the pipeline would write them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot import domain
from bot.config import SourceSpec
from bot.delivery.sender import Sender
from bot.render.format import AlertView
from bot.storage.models import utcnow
from bot.storage.store import AlertDraft, Store


class Outbox:
    def __init__(self, store: Store, sender: Sender) -> None:
        self.store, self.sender = store, sender
        store.sync_global_sources([SourceSpec("https://feed.test/rss", "Feed")])
        source = store.due_sources(utcnow())[0]
        assert source.id is not None
        self.source_id = source.id
        self.count = 0

    def queue(self, chat_id: int, title: str = "Putin and Modi hold summit") -> int:
        """Queue one alert for `chat_id`; returns its delivery id."""
        self.count += 1
        self.store.ensure_chat(chat_id, type="group" if chat_id < 0 else "private")
        item = domain.Item(
            source_url="https://feed.test/rss",
            source_name="Feed",
            title=f"{title} #{self.count}",
            url=f"https://a.test/{self.count}",
            guid=None,
            published=datetime(2025, 12, 5, tzinfo=UTC),
            text="",
            summary="Leaders met.",
        )
        self.store.claim_new_items(
            self.source_id, [(item, [f"u:{self.count}"])], {0: [alert_of(chat_id, item)]}
        )
        return self.store.deliveries_for_chat(chat_id)[-1].id  # type: ignore[return-value]

    def status(self, chat_id: int) -> list[str]:
        return [row.status for row in self.store.deliveries_for_chat(chat_id)]


def alert_of(chat_id: int, item: domain.Item, topic: str = "Putin Modi") -> AlertDraft:
    """An alert of the item for one chat, as routing drafts it."""
    view = AlertView(item.title, item.url, item.summary, item.source_name, item.published, topic)
    return AlertDraft(chat_id, None, None, view.to_json(), item.url)


def alerts_for(
    items: Sequence[domain.Item], chats: Sequence[int] = (1,)
) -> dict[int, list[AlertDraft]]:
    """Every item alerts every one of `chats`, by the item's position."""
    return {n: [alert_of(chat, item) for chat in chats] for n, item in enumerate(items)}
