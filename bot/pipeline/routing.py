"""Which chats a new item alerts: the topics it matches, then one alert draft per chat. Drafts
are data (the alert's view, no HTML), decided before the item is stored; the sender renders
them."""

from __future__ import annotations

from bot import domain
from bot.match import MatchDoc
from bot.pipeline.topics import TopicCache
from bot.render.format import AlertView
from bot.storage.store import ActiveTopic, AlertDraft

Matches = dict[int, tuple[str, ...]]  # topic id -> the words that matched, ids ascending


def matches(topics: TopicCache, item: domain.Item) -> Matches:
    """Every topic the item matches, with the words that matched it."""
    doc = MatchDoc(title=item.title, text=item.text, site=item.site, language=item.language)
    return {topic_id: result.terms for topic_id, result in topics.index.match(doc).items()}


def subject_terms(found: Matches) -> list[str]:
    """The words of every topic the item matches: what its topics share, not its event."""
    return [term for terms in found.values() for term in terms]


def drafts(
    topics: TopicCache, item: domain.Item, found: Matches, audience: set[int] | None
) -> list[AlertDraft]:
    """One alert per chat whose topics match, whatever the number of matching topics."""
    per_chat: dict[int, list[tuple[ActiveTopic, tuple[str, ...]]]] = {}
    for topic_id, terms in sorted(found.items()):
        topic = topics.topics.get(topic_id)
        if topic is None or (audience is not None and topic.chat_id not in audience):
            continue
        per_chat.setdefault(topic.chat_id, []).append((topic, terms))
    alerts = []
    for chat_id, hits in per_chat.items():
        first, _ = hits[0]
        view = AlertView(
            title=item.title,
            url=item.url,
            summary=item.summary,
            source_name=item.source_name,
            published=item.published,
            topic="; ".join(topic.query for topic, _ in hits),
            matched_terms=tuple(dict.fromkeys(term for _, found in hits for term in found)),
            lang=first.language,
            source_lang=item.language,
        )
        instant = all(topic.mode == "instant" for topic, _ in hits)
        alerts.append(
            AlertDraft(
                chat_id,
                first.id,
                first.thread_id,
                view.to_json(),
                item.url,
                "pending" if instant else "digest",
            )
        )
    return alerts
