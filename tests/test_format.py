from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.render.format import MAX_MESSAGE, AlertView, format_alert, visible_length


def view(**overrides: object) -> AlertView:
    values: dict[str, object] = {
        "title": "Putin and Modi hold summit",
        "url": "https://example.com/a?x=1&y=2",
        "summary": "The leaders met in New Delhi.",
        "source_name": "Outlet",
        "published": datetime(2025, 12, 5, 14, 3, tzinfo=UTC),
        "topic": "Putin Modi summit",
        "matched_terms": ("putin", "modi", "summit"),
    }
    values.update(overrides)
    return AlertView(**values)  # type: ignore[arg-type]


def test_alert_has_bold_linked_title_summary_source_time_and_topic() -> None:
    text = format_alert(view())
    assert text.startswith(
        '<b><a href="https://example.com/a?x=1&amp;y=2">Putin and Modi hold summit</a></b>'
    )
    assert "The leaders met in New Delhi." in text
    assert "Outlet · 5 Dec 2025, 14:03 UTC" in text
    assert "Putin Modi summit" in text and "matched: putin, modi, summit" in text


def test_every_feed_string_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & <b>'
    text = format_alert(
        view(
            title=hostile,
            summary=hostile,
            source_name=hostile,
            topic=hostile,
            matched_terms=(hostile,),
        )
    )
    assert "<script>" not in text and '<b>"' not in text
    assert "&lt;script&gt;" in text
    assert set(re.findall(r"</?([a-zA-Z-]+)", text)) <= {"b", "a", "i"}


def test_non_http_links_are_not_linked() -> None:
    text = format_alert(view(url="javascript:alert(1)"))
    assert "href" not in text and "javascript" not in text


def test_message_never_passes_the_limit() -> None:
    huge = "Word " * 5000
    text = format_alert(view(title=huge, summary=huge + "😀" * 3000, topic=huge))
    assert visible_length(text) <= MAX_MESSAGE
    assert text.count("<b>") == 1


def test_missing_time_and_source_are_left_out() -> None:
    text = format_alert(view(published=None, source_name=""))
    assert "<i>" not in text and "UTC" not in text


def test_also_reported_by_lists_three_outlets_then_a_count() -> None:
    text = format_alert(view(), also_reported=("The Hindu", "TASS <wire>", "BBC", "NDTV", "RT"))
    assert "Also reported by: The Hindu, TASS &lt;wire&gt;, BBC (+2)" in text
    assert "Also reported by" not in format_alert(view())


def test_an_alert_view_survives_its_json_round_trip() -> None:
    original = view()
    assert AlertView.from_json(original.to_json()) == original
    assert AlertView.from_json(view(published=None).to_json()).published is None
