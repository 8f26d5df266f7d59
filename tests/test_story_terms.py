"""Story terms and the fold decision: real-shaped reports, other scripts, hostile input."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import defaults, domain
from bot.dedup import stories, terms
from bot.dedup.stories import FoldKind, Report, StoryState, decide, report_of, start_centroid
from bot.match import load_aliases
from bot.render.format import visible_length
from bot.render.story import timeline_text
from bot.storage.stories import Timeline, TimelineEntry

ALIASES = terms.TermAliases.from_aliases(load_aliases(defaults.ALIASES))
NOW = datetime(2022, 8, 31, 12, tzinfo=UTC)


def item(title: str, text: str = "", outlet: str = "BBC News", language: str = "en") -> domain.Item:
    return domain.Item(
        source_url=f"https://{outlet.replace(' ', '').lower()}.example/rss",
        source_name=outlet,
        title=title,
        url=f"https://{outlet.replace(' ', '').lower()}.example/{abs(hash(title))}",
        guid=None,
        published=NOW,
        text=text,
        summary=text[:200],
        language=language,
    )


def started(report: Report, story_id: int = 1) -> StoryState:
    centroid, _ = start_centroid(report)
    minhash = report.signature.minhash if report.signature else None
    return StoryState(story_id, (report.outlet,), centroid, report.at, minhash)


def test_one_name_in_three_scripts_is_one_term() -> None:
    english = terms.story_terms("Putin meets Modi", "", "en", ALIASES)
    russian = terms.story_terms("Путин встретился с Моди", "", "ru", ALIASES)
    hindi = terms.story_terms("पुतिन ने मोदी से मुलाकात की", "", "hi", ALIASES)
    for vector in (english, russian, hindi):
        assert {"putin", "modi"} <= set(vector)


def test_names_without_an_alias_meet_through_transliteration() -> None:
    assert terms.transliterate("горбачев") == "gorbachev"
    assert terms.transliterate("मोदी") == "modi"
    russian = terms.story_terms("Умер Михаил Горбачев", "", "ru", ALIASES)
    assert "gorbachev" in russian


def test_rare_names_and_numbers_weigh_more_than_common_words() -> None:
    vector = terms.story_terms(
        "Mikhail Gorbachev: Last Soviet leader dies aged 91",
        "The former president opened up the Soviet Union but failed to prevent its collapse.",
        "en",
        ALIASES,
    )
    assert vector["gorbachev"] > vector["soviet"] > vector["leader"]
    assert "#91" in vector
    assert "the" not in vector and "but" not in vector


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("", ""),
        ("Wordle", ""),
        ("Breaking news", ""),
        ("BREAKING: PUTIN AND MODI MEET IN MOSCOW", ""),
        ("2022 2023 2024", ""),
        ("ข่าวด่วน นายกรัฐมนตรี พบ ประธานาธิบดี", ""),  # Thai: no lemmatizer, no word list
        ("普京与莫迪在莫斯科会晤", ""),
        ("Gorbachev dies", "word " * 10_000 + "Gorbachev"),
        ("<script>alert(1)</script>", "\x00\ufeff" * 100),
    ],
)
def test_bad_input_is_decided_without_error_and_never_folds_into_a_weak_match(
    title: str, text: str
) -> None:
    vector = terms.story_terms(title, text, None, ALIASES)
    assert len(vector) <= terms.MAX_TERMS
    report = report_of(item(title, text), ALIASES)
    other = report_of(item("Putin and Modi meet in Moscow for talks", "", outlet="CNN"), ALIASES)
    fold = decide(report, [started(other)])
    if len(report.terms) < stories.MIN_TERMS:
        assert fold is None


def test_a_huge_lead_costs_what_a_short_one_does() -> None:
    vector = terms.story_terms("Gorbachev dies", "Gorbachev " + "word " * 10_000, "en", ALIASES)
    assert vector["gorbachev"] > 0.5  # the lead is cut, so the name is not drowned out


def test_another_outlets_report_in_other_words_is_a_report_of_the_story() -> None:
    cnn = report_of(
        item(
            "Mikhail Gorbachev, ex-leader who presided over Soviet Union's collapse, dies",
            "Mikhail Gorbachev -- the last leader of the former Soviet Union, died aged 91.",
            outlet="CNN",
        ),
        ALIASES,
    )
    bbc = report_of(
        item(
            "Mikhail Gorbachev: Last Soviet leader dies aged 91",
            "The former president opened up the Soviet Union but failed to prevent its collapse.",
        ),
        ALIASES,
    )
    fold = decide(bbc, [started(cnn)])
    assert fold is not None and fold.kind is FoldKind.REPORT and fold.story_id == 1
    assert "gorbachev" in fold.index_terms


def test_a_follow_up_from_the_same_outlet_is_an_update() -> None:
    first = report_of(
        item(
            "Anita Alvarez: Coach saves US swimmer who fainted during competition",
            "Artistic swimmer Anita Alvarez was rescued from the bottom of the pool at the world "
            "championships.",
        ),
        ALIASES,
    )
    again = report_of(
        item(
            "World Aquatics Championships: US artistic swimmer Anita Alvarez rescued by coach",
            "American artistic swimmer Anita Alvarez is rescued from the bottom of the pool by her "
            "coach after fainting.",
        ),
        ALIASES,
    )
    fold = decide(again, [started(first)])
    assert fold is not None and fold.kind is FoldKind.UPDATE


def test_a_new_development_on_the_same_subject_is_a_story_of_its_own() -> None:
    invasion = report_of(
        item(
            "Russia invades Ukraine: explosions heard in Kyiv as troops cross border",
            "Russian forces launched a full-scale invasion of Ukraine on Thursday morning.",
        ),
        ALIASES,
    )
    sanctions = report_of(
        item(
            "US and EU announce sweeping sanctions on Russian banks",
            "Washington and Brussels froze assets of major lenders and cut them from Swift.",
            outlet="CNN",
        ),
        ALIASES,
    )
    assert decide(sanctions, [started(invasion)]) is None


def test_a_story_past_its_term_window_takes_only_copies() -> None:
    old = report_of(item("Mikhail Gorbachev: Last Soviet leader dies aged 91"), ALIASES)
    later = report_of(
        item("Mikhail Gorbachev, last Soviet leader, dies aged 91 in Moscow", outlet="CNN"),
        ALIASES,
    )
    state = started(old)
    assert decide(later, [state]) is not None
    stale = StoryState(1, state.outlets, state.centroid, NOW - stories.TERM_WINDOW * 2, None)
    assert decide(later, [stale]) is None


def test_the_centroid_follows_the_latest_reports() -> None:
    at = NOW
    merged, when = stories.merge_centroid({"old": 1.0}, at - timedelta(hours=24), {"new": 1.0}, at)
    assert when == at and merged["new"] > 3 * merged["old"]


def test_a_damaged_stored_centroid_reads_as_empty() -> None:
    assert stories.centroid_from_json("{not json") == {}
    assert stories.centroid_from_json('["a"]') == {}
    assert stories.centroid_from_json('{"a": 0.5, "b": "x"}') == {"a": 0.5}


def test_the_timeline_is_escaped_and_capped() -> None:
    entries = [
        TimelineEntry("<b>Outlet</b>", f"Report {n} <i>&</i>", f"https://x.example/{n}", NOW)
        for n in range(200)
    ]
    text = timeline_text(Timeline(7, "A <story>", 200, entries), 0)
    assert "<story>" not in text and "&lt;story&gt;" in text
    assert "<b>Outlet</b>" not in text and "&lt;b&gt;Outlet" in text
    assert "page 1 of 20" in text
    assert visible_length(text) <= 4096
    assert text.count("• ") == 10
    bad_link = timeline_text(
        Timeline(7, "t", 1, [TimelineEntry("o", "t", "javascript:alert(1)", None)]), 0
    )
    assert "javascript:" not in bad_link


def test_lemmas_and_word_lists_need_no_network() -> None:
    """simplemma and wordfreq ship their data: with every connection refused, a fresh process
    still weighs English, Russian and Hindi reports."""
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network is off')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from bot.dedup.terms import story_terms\n"
        "for title, lang in (('Gorbachev dies aged 91', 'en'), ('Умер Горбачев', 'ru'),"
        " ('मोदी मास्को पहुंचे', 'hi')):\n"
        "    assert story_terms(title, '', lang), title\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
