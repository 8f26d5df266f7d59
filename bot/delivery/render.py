"""An outbox row as Telegram shows it: the alert text with its story's latest state, and buttons."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.storage.models import Delivery, Story

if TYPE_CHECKING:
    from bot.delivery.translate import AlertTranslation
from bot.render.format import AlertView, format_alert, safe_link
from bot.render.i18n import t


def story_outlets(story: Story | None) -> list[str]:
    if story is None:
        return []
    try:
        outlets = json.loads(story.outlets or "[]")
    except ValueError:
        return []
    return [str(name) for name in outlets if isinstance(name, str | int)]


def render_alert(
    row: Delivery, story: Story | None, translation: AlertTranslation | None = None
) -> str:
    """The alert with its story's current headline and the other outlets that carry it;
    in the chat's language when a translation is given."""
    if not row.view:
        return row.text
    view = AlertView.from_json(row.view)
    if translation is not None:
        view = replace(view, title=translation.title, summary=translation.summary)
    elif story is not None and story.url == view.url and story.title:
        view = replace(view, title=story.title)
    others = [name for name in story_outlets(story) if name != view.source_name]
    source = translation.source if translation is not None else None
    updates = story.updates if story is not None else 0
    return format_alert(view, also_reported=others, translated_from=source, updates=updates or 0)


def alert_buttons(row: Delivery, *, translated: bool = False) -> InlineKeyboardMarkup | None:
    """Open, Mute this topic for 24 h, Not relevant, and Original under a translated alert.
    Callback data stays far below 64 bytes."""
    buttons = []
    link = safe_link(row.link) if row.link else None
    lang = AlertView.from_json(row.view).lang if row.view else "en"
    if link:
        buttons.append(InlineKeyboardButton(t(lang, "chrome.open"), url=link))
    if row.topic_id is not None:
        buttons.append(
            InlineKeyboardButton(t(lang, "chrome.mute"), callback_data=f"mute:{row.topic_id}")
        )
    if row.id is not None and row.view:
        buttons.append(
            InlineKeyboardButton(t(lang, "chrome.not_relevant"), callback_data=f"nr:{row.id}")
        )
    rows = [buttons] if buttons else []
    if translated and row.id is not None:
        original = InlineKeyboardButton(
            t(lang, "translate.original"), callback_data=f"orig:{row.id}"
        )
        rows.append([original])
    if row.story_id is not None and row.view:
        story = f"story:{row.story_id}"
        rows.append([InlineKeyboardButton(t(lang, "story.button"), callback_data=story)])
    return InlineKeyboardMarkup(rows) if rows else None
