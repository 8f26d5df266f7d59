"""Which chats a new item alerts: the topics it matches, one outbox row per chat."""

from __future__ import annotations

from bot.match import MatchDoc
from bot.pipeline.topics import TopicCache
from bot.render.format import AlertView, format_alert
from bot.storage.store import ActiveTopic, NewItem, OutboxRow


def route(topics: TopicCache, new: NewItem, audience: set[int] | None) -> list[OutboxRow]:
    """One outbox row per chat whose topics match, whatever the number of matching topics."""
    item = new.item
    doc = MatchDoc(title=item.title, text=item.text, site=item.site, language=item.language)
    matches = topics.index.match(doc)
    per_chat: dict[int, list[tuple[ActiveTopic, tuple[str, ...]]]] = {}
    for topic_id, result in sorted(matches.items()):
        topic = topics.topics.get(topic_id)
        if topic is None or (audience is not None and topic.chat_id not in audience):
            continue
        per_chat.setdefault(topic.chat_id, []).append((topic, result.terms))
    rows = []
    for chat_id, hits in per_chat.items():
        first, _ = hits[0]
        terms = tuple(dict.fromkeys(term for _, found in hits for term in found))
        view = AlertView(
            title=item.title,
            url=item.url,
            summary=item.summary,
            source_name=item.source_name,
            published=item.published,
            topic="; ".join(topic.query for topic, _ in hits),
            matched_terms=terms,
            lang=first.language,
            source_lang=item.language,
        )
        rows.append(
            OutboxRow(
                chat_id,
                new.id,
                first.id,
                first.thread_id,
                format_alert(view),
                item.url,
                view.to_json(),
                "pending" if all(t.mode == "instant" for t, _ in hits) else "digest",
            )
        )
    return rows
