"""Database tables. Times are timezone-aware UTC in Python and UTC in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Chat(SQLModel, table=True):
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = "private"
    title: str = ""
    language: str = "en"  # from the user's Telegram language, or chosen with /lang
    language_chosen: bool = False  # /lang was used: keep it over the Telegram setting
    timezone: str = "UTC"  # IANA name or a fixed offset like "+05:30"
    quiet_start: str | None = None  # "HH:MM" local time
    quiet_end: str | None = None
    quiet_mode: str = "silent"  # silent: sent without sound; hold: one message when they end
    digest_time: str = "08:00"  # local time of the daily digest
    translate: bool = False  # alerts in other languages arrive translated (/translate)
    translate_to: str | None = None  # the language they are translated into; None: `language`
    owner_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    active: bool = True
    migrated_to: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    deactivated_at: datetime | None = None


class Topic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    query: str = Field(sa_column=Column(Text, nullable=False))
    number: int | None = None  # what the chat calls it: 1, 2, 3 … in each chat
    thread_id: int | None = None
    active: bool = True
    search: bool = True  # backed by news-search feeds built from the query
    muted_until: datetime | None = None
    mode: str = "instant"  # instant | hourly | daily
    created_at: datetime = Field(default_factory=utcnow)
    # `/watch … until`: the last day watched, or the end of the soonest matching event
    ends_on: date | None = None
    until_event: bool = False
    ended_at: datetime | None = None  # alerts stopped; the wrap-up is due the next morning
    wrapup_sent: bool = False


class Source(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("url", name="uq_source_url"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    name: str = ""
    kind: str = "feed"  # feed | page | search
    is_global: bool = False
    interval: float | None = None  # explicit, from sources.toml
    current_interval: float | None = None  # what the schedule settled on last time
    server_floor: float | None = None  # seconds the server asks between requests (ttl, max-age)
    topic_id: int | None = Field(default=None, index=True)  # the topic a search source serves
    etag: str | None = None
    last_modified: str | None = None
    initialized: bool = False  # the first poll records items without alerting
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    error_streak: int = 0
    polls: int = 0
    not_modified_count: int = 0
    next_check_at: datetime = Field(default_factory=utcnow, index=True)
    retired: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class SourceListing(SQLModel, table=True):
    """Digests of the entries a feed listed at its last successful read (see `parse_feed`)."""

    source_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    digests: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ChatSource(SQLModel, table=True):
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    source_id: int = Field(primary_key=True)
    number: int | None = None  # what the chat calls the source: 1, 2, 3 … in each chat


class Item(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    guid: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    published: datetime | None = None
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    language: str | None = None
    story_id: int | None = Field(default=None, index=True)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class Story(SQLModel, table=True):
    """Copies of one article across outlets, and its alerts' current headline."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    outlets: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    minhash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    # The story's term centroid (JSON term -> weight) as of `terms_at`, see bot.dedup.stories.
    terms: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    terms_at: datetime | None = None
    updates: int = 0  # follow-ups by outlets that had already reported it


class StoryBand(SQLModel, table=True):
    """Locality-sensitive hash bands of recent stories: near-copies share at least one."""

    band: str = Field(primary_key=True, max_length=64)
    story_id: int = Field(primary_key=True)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class StoryTerm(SQLModel, table=True):
    """Inverted index of recent stories' heaviest terms: a report is compared only with the
    stories that share one of its own heaviest terms."""

    __table_args__ = (Index("ix_storyterm_term_seen", "term", "seen_at"),)

    term: str = Field(primary_key=True, max_length=64)
    story_id: int = Field(primary_key=True)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class Feedback(SQLModel, table=True):
    """ "Not relevant" presses, kept per topic for tuning."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    topic_id: int | None = Field(default=None, index=True)
    story_id: int | None = None
    kind: str = "not_relevant"
    created_at: datetime = Field(default_factory=utcnow)


class SeenKey(SQLModel, table=True):
    """Every guid, URL and title fingerprint ever seen. Kept after items are pruned,
    so an old item never comes back as new."""

    key: str = Field(primary_key=True, max_length=80)
    item_id: int | None = Field(default=None, index=True)
    seen_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """The outbox: one row per chat per item, written before any send."""

    __table_args__ = (
        UniqueConstraint("chat_id", "item_id", name="uq_delivery_chat_item"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    item_id: int = Field(index=True)
    topic_id: int | None = None
    thread_id: int | None = None
    # HTML rendered at claim time by older versions: sent only for rows with no `view`
    text: str = Field(sa_column=Column(Text, nullable=False))
    view: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # AlertView JSON
    link: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    story_id: int | None = Field(default=None, index=True)
    edit_due: bool = False  # the story changed since this alert was sent
    edited_at: datetime | None = None
    muted: bool = False  # "not relevant": no more edits for this alert
    silent: bool = False  # sent without sound (quiet hours)
    status: str = "pending"  # pending | sent | failed | dropped
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None
    message_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)  # burst mode counts
    sent_at: datetime | None = None


class Event(SQLModel, table=True):
    """An announced meeting that matches one topic, merged across the outlets reporting it."""

    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    kind: str = "meeting"
    start: date = Field(index=True)
    end: date
    precision: str = "day"  # day | week
    place: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    participants: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    best_outlet: str = ""
    outlets: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    stories: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    reported_at: datetime = Field(default_factory=utcnow)
    moved_from: date | None = None  # the start before a later report moved it
    reminded: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class CalendarFeed(SQLModel, table=True):
    """The secret in a chat's calendar subscription URL; replaced by `/calendar reset`."""

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    secret: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Translation(SQLModel, table=True):
    """An item's title and summary in another language, shared by every chat that wants it."""

    item_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    target: str = Field(primary_key=True, max_length=12)
    source: str = Field(max_length=12)
    title: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WebSubscription(SQLModel, table=True):
    """A source's WebSub subscription at its hub (see bot/push/subscriber.py for the states)."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    hub: str = Field(sa_column=Column(Text, nullable=False))
    topic: str = Field(sa_column=Column(Text, nullable=False))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    # wanted -> pending -> active; denied / failed wait for `retry_at`; leaving -> left
    state: str = "wanted"
    lease_seconds: int | None = None
    renew_at: datetime | None = None
    requested_at: datetime | None = None
    retry_at: datetime | None = None
    verified_at: datetime | None = None
    last_delivery_at: datetime | None = None
    trusted: bool = True  # False after a safety poll found entries the hub had not pushed
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
