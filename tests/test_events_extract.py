"""Announced meetings in real reports: the seed sentence, bad dates, and the labelled set."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bench import events as bench
from bot import defaults
from bot.events import extract_events
from bot.events.dates import find_dates
from bot.match import load_aliases
from bot.sources.feed_entries import utc_offset_of
from bot.sources.normalize import normalize_entry
from bot.sources.parse import parse_feed

ALIASES = load_aliases(defaults.ALIASES)
SEED = (
    "The Kremlin officially confirmed that President Vladimir Putin will visit New Delhi on "
    "December 4–5 for a high-level summit with Indian Prime Minister Narendra Modi."
)
ANNOUNCED = datetime(2025, 11, 28, 12, tzinfo=UTC)


def test_seed_sentence_gives_the_new_delhi_summit() -> None:
    [event] = extract_events("Putin to visit India", SEED, ANNOUNCED, aliases=ALIASES)
    assert (event.dates.start, event.dates.end) == (date(2025, 12, 4), date(2025, 12, 5))
    assert event.place == "New Delhi"
    assert {"Putin", "Modi"} <= set(event.participants)
    assert event.kind == "summit"
    assert event.evidence == SEED


def test_russian_range_and_relative_days() -> None:
    [ru] = extract_events("Путин посетит Индию 4–5 декабря", "", ANNOUNCED, aliases=ALIASES)
    assert (ru.dates.start, ru.dates.end) == (date(2025, 12, 4), date(2025, 12, 5))
    friday = datetime(2025, 11, 28, 9, tzinfo=UTC)  # a Friday
    [week] = extract_events("Leaders will hold talks in Paris next week", "", friday)
    assert (week.dates.start, week.dates.end, week.dates.precision) == (
        date(2025, 12, 1),
        date(2025, 12, 7),
        "week",
    )
    [thursday] = extract_events("Modi will meet with President Putin on Thursday", "", friday)
    assert thursday.dates.start == date(2025, 12, 4)


@pytest.mark.parametrize(
    "sentence",
    [
        "The summit will be held in Sochi on February 30.",
        "The leaders will meet in Geneva on December 9–7.",
        "Talks in Vienna will open on 3 May 2031.",
        "The summit was held in Moscow on November 3.",
        "The summit planned for December 10 in Paris was cancelled.",
        "Officials said on Thursday the parties would meet.",
        "The exhibition forum will run until 8 July.",
        "England hope for a meeting with Australia in the World Cup semi-final on Thursday.",
        "Сборные встретятся в финале турнира в субботу.",
    ],
)
def test_bad_and_past_dates_give_no_event(sentence: str) -> None:
    assert extract_events("", sentence, ANNOUNCED) == []


def test_weekends_and_weeks_in_three_languages() -> None:
    friday = datetime(2025, 11, 28, 9, tzinfo=UTC)
    weekend = (date(2025, 11, 29), date(2025, 11, 30))
    for title in (
        "Leaders will hold a summit in Rome this weekend",
        "Лидеры встретятся в Казани на выходных",
        "मोदी इस सप्ताहांत पुतिन से मुलाकात करेंगे",
    ):
        [event] = extract_events(title, "", friday)
        assert (event.dates.start, event.dates.end) == weekend, title
    [hindi] = extract_events("मोदी अगले सप्ताह रूस की यात्रा करेंगे", "", friday)
    assert (hindi.dates.start, hindi.dates.end) == (date(2025, 12, 1), date(2025, 12, 7))


def test_the_present_of_a_meeting_verb_is_a_scheduled_day() -> None:
    tuesday = datetime(2025, 11, 25, 9, tzinfo=UTC)
    [event] = extract_events(
        "", "Buyers wait with bated breath as the cartel meets this week.", tuesday
    )
    assert (event.dates.start, event.dates.end) == (date(2025, 11, 25), date(2025, 11, 30))
    [opens] = extract_events("", "The forum opens in Kazan on Thursday.", tuesday)
    assert opens.dates.start == date(2025, 11, 27)
    assert extract_events("", "The forum opened in Kazan on Thursday.", tuesday) == []


def test_a_date_in_the_headline_goes_with_the_meeting_in_the_lede() -> None:
    [event] = extract_events(
        "Investors have plenty to cheer this weekend",
        "Shareholders are set to descend on Omaha for the company's annual meeting.",
        datetime(2025, 11, 28, 9, tzinfo=UTC),
    )
    assert event.dates.start == date(2025, 11, 29)
    assert event.evidence.startswith("Investors have plenty")


def test_an_abbreviation_does_not_cut_the_evidence() -> None:
    text = "Speaking in St. Petersburg, the minister said he will visit Kyiv on Friday."
    [event] = extract_events("", text, datetime(2025, 11, 26, 17, tzinfo=UTC))
    assert event.evidence == text
    assert event.place == "Kyiv"


def test_no_date_is_ever_before_its_announcement() -> None:
    for row in bench.load():
        day = bench.published(row).date()
        sentence = f"{row['title']}. {row['text']}"
        assert all(f.span.start >= day for f in find_dates(sentence, bench.published(row)))


def test_labelled_set_meets_the_goals() -> None:
    rows = bench.load()
    assert len(rows) >= 100
    score = bench.score(rows)
    assert score.gold >= 25
    assert score.date_precision >= 0.9, score.misses
    assert score.date_recall >= 0.8, score.misses
    assert score.past == 0
    assert score.date_precision > bench.score(rows, bench.dateparser_alone).date_precision


MONDAY = datetime(2022, 4, 18, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "sentence",
    [
        "The prime minister is due to visit Riyadh in the next two weeks, a first trip in years.",
        "Новая встреча представителей может состояться в ближайшие две недели",
        "The envoys will meet again within two weeks.",
        "Talks in Vienna will go on for the third week.",
    ],
)
def test_a_window_or_a_count_of_weeks_names_no_meeting_day(sentence: str) -> None:
    assert extract_events("", sentence, MONDAY) == []


def test_a_date_said_to_someone_is_the_report_not_the_meeting() -> None:
    told = "The president is considering a visit to Jerusalem, an official told CNN Monday."
    assert extract_events("", told, MONDAY) == []
    assert (
        extract_events("", "The minister told reporters on Monday he would visit Kyiv.", MONDAY)
        == []
    )
    # the meeting's own day, with a reporting clause after it, is still read
    [event] = extract_events(
        "", "The leaders will meet in Geneva on Thursday, officials told reporters.", MONDAY
    )
    assert event.dates.start == date(2022, 4, 21)
    [within] = extract_events("", "The envoys will meet in Geneva on May 25.", MONDAY)
    assert within.dates.start == date(2022, 5, 25)


WEDNESDAY = datetime(2022, 1, 5, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "text", "day"),
    [
        ("", "Ministers will meet in Geneva on Friday to agree the package.", date(2022, 1, 7)),
        ("", "The world's biggest trade show kicks off Thursday in Las Vegas.", date(2022, 1, 6)),
        ("", "The minister chairs green hustings on Monday in Westminster.", date(2022, 1, 10)),
        (
            "Завтра, 6 января, Государственная Дума заслушает отчет правительства",
            "",
            date(2022, 1, 6),
        ),
        (
            "Президент 7 января выступит перед участниками дискуссионного клуба",
            "",
            date(2022, 1, 7),
        ),
        ("", "The president will address delegates in Davos on Friday.", date(2022, 1, 7)),
        (
            "Here's why the president is going to Poland",
            "Poland welcomes the president on Friday as part of his mission.",
            date(2022, 1, 7),
        ),
        (
            "League to discuss the TV deal at annual general meeting",
            "The Premier League will discuss the deal at this week's annual general meeting.",
            date(2022, 1, 5),
        ),
    ],
)
def test_meetings_named_without_a_meeting_noun(title: str, text: str, day: date) -> None:
    [event] = extract_events(title, text, WEDNESDAY)
    assert event.dates.start == day


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("", "The two captains will meet on the rugby pitch on Saturday."),
        ("", "The Premier League fixtures resume this week, with Arsenal to meet Spurs."),
        ("", "The law, which parliament passed in May, takes effect on Friday."),
        ("", "The minister is going to work on the budget on Friday."),
        ("", "The trade show kicked off on Monday in Las Vegas."),
        ("", "The leaders gave a press conference on Wednesday in Rome."),
    ],
)
def test_look_alikes_of_those_meetings_give_no_event(title: str, text: str) -> None:
    assert extract_events(title, text, WEDNESDAY) == []


def test_a_day_owned_by_the_meeting_and_the_rest_of_today() -> None:
    [owned] = extract_events("", "Leaders arrive in Brussels ahead of Friday's summit.", WEDNESDAY)
    assert owned.dates.start == date(2022, 1, 7)
    [tonight] = extract_events("", "Ministers will meet tonight in Paris.", WEDNESDAY)
    assert tonight.dates.start == date(2022, 1, 5)
    hours = "Pyongyang hit out at the allies hours before the three leaders meet for talks."
    [soon] = extract_events("", hours, WEDNESDAY)
    assert soon.dates.start == date(2022, 1, 5)
    # a meeting already over, and a plain "ahead of" a day, are not read
    assert extract_events("", hours.replace("meet", "met"), WEDNESDAY) == []
    assert extract_events("", "Leaders gathered in Brussels for Friday's summit.", WEDNESDAY) == []
    assert extract_events("", "Ministers will meet ahead of 8 March in Paris.", WEDNESDAY) == []


@pytest.mark.parametrize(
    ("sentence", "announced"),
    [
        ("Ministers will meet later to decide whether to keep the policy.", True),
        ("The leaders will meet later this month in Paris.", False),
        ("The date of the summit will be decided later.", False),
        ("Ministers met later to decide on the policy.", False),
    ],
)
def test_a_meeting_later_is_later_today(sentence: str, announced: bool) -> None:
    events = extract_events("", sentence, WEDNESDAY)
    assert [e.dates.start for e in events] == ([date(2022, 1, 5)] if announced else [])


def test_a_headline_date_does_not_go_with_a_meeting_that_is_over() -> None:
    published = datetime(2022, 7, 14, 12, tzinfo=UTC)
    title = "Train drivers to go on strike on 30 July"
    over = "The union says drivers will walk out after talks over pay broke down."
    assert extract_events(title, over, published) == []
    # the headline's own meeting is not undone by an earlier one in the lede
    summit = "Leaders to hold a summit in Rome on 30 July"
    earlier = "The last summit broke up without a deal."
    [event] = extract_events(summit, earlier, published)
    assert event.dates.start == date(2022, 7, 30)


@pytest.mark.parametrize(
    "title",
    [
        # past verbs that no suffix list knew: the dictionary reads the tense
        "Сегодня Владимир Путин прибыл в Баку с двухдневным государственным визитом",
        "Сегодня Лавров был на переговорах в Пекине",
        "Сегодня президенты провели переговоры в Кремле",
        "Завтра Путин завершит визит в Индию",
    ],
)
def test_a_russian_visit_under_way_is_not_announced(title: str) -> None:
    assert extract_events(title, "", ANNOUNCED) == []


@pytest.mark.parametrize(
    "title",
    [
        "Сегодня Путин прибудет в Баку с государственным визитом",
        "Завтра президенты проведут переговоры в Кремле",
        "Путин и Моди встретятся в Дели в четверг",
    ],
)
def test_a_russian_visit_to_come_is_announced(title: str) -> None:
    [event] = extract_events(title, "", ANNOUNCED)
    assert event.dates.start >= ANNOUNCED.date()


@pytest.mark.parametrize(
    "text",
    [
        "President Joe Biden will conclude a visit to South Korea on Sunday.",
        "The prince's visit to Canada for the jubilee will end on Thursday.",
        "All eyes will be on the Federal Reserve Wednesday as it wraps up a policy meeting.",
        "Визит завершится в пятницу.",
    ],
)
def test_a_meeting_that_ends_on_the_date_is_under_way(text: str) -> None:
    assert extract_events("", text, ANNOUNCED) == []


def test_ending_something_else_is_still_a_meeting() -> None:
    [deal] = extract_events(
        "", "Biden will visit Japan on Monday to conclude a trade deal.", ANNOUNCED
    )
    assert deal.dates.start == date(2025, 12, 1)
    [war] = extract_events("", "Talks to end the war will be held in Geneva on Monday.", ANNOUNCED)
    assert (war.dates.start, war.place) == (date(2025, 12, 1), "Geneva")


def test_we_is_a_word_not_wednesday() -> None:
    title = "Russia-Ukraine war live: Putin and Erdoğan to meet; what we know on day 126"
    assert extract_events(title, "", ANNOUNCED) == []
    assert [f.span.phrase for f in find_dates("what we know on Thursday", ANNOUNCED)] == [
        "on Thursday"
    ]


def test_congress_with_a_capital_is_a_legislature_not_a_gathering() -> None:
    text = "President Joe Biden on Tuesday is set to sign a bill after Congress approved it."
    assert extract_events("", text, ANNOUNCED) == []
    [party] = extract_events("", "The party congress will open in Beijing on Sunday.", ANNOUNCED)
    assert party.dates.start == date(2025, 11, 30)


def test_the_lede_s_own_verb_dates_its_meeting_not_the_headline_s() -> None:
    title = "Giuliani meets with House committee for more than 9 hours"
    lede = "Rudy Giuliani, Trump's onetime attorney, on Friday met with the House committee."
    assert extract_events(title, lede, ANNOUNCED) == []
    title = "Kim Jong Un accepts Trump's invitation to meet at the DMZ"
    lede = 'The meeting on Sunday might "only be a handshake," said Trump.'
    [dmz] = extract_events(title, lede, ANNOUNCED)
    assert dmz.dates.start == date(2025, 11, 30)


def test_from_a_day_is_the_start_of_a_state_but_from_to_is_a_range() -> None:
    assert extract_events("", "From Monday, there will be no limit on visits.", ANNOUNCED) == []
    for text in (
        "The summit will run in Delhi from December 4 to 5.",
        "The summit will be held on December 4-5 in Delhi.",
    ):
        [summit] = extract_events("", text, ANNOUNCED)
        assert (summit.dates.start, summit.dates.end) == (date(2025, 12, 4), date(2025, 12, 5))


def test_a_legislature_s_hearings_and_return_are_sittings() -> None:
    friday = datetime(2025, 11, 28, 9, tzinfo=UTC)
    texts = (
        "Survivors will testify at a House hearing on Wednesday.",
        "The British parliament returns on Tuesday after the local elections.",
        "В Госдуме 3 декабря пройдут парламентские слушания по налогам.",
    )
    for text in texts:
        [sitting] = extract_events("", text, friday)
        assert sitting.kind == "session" and sitting.dates.start > friday.date(), text
    assert extract_events("", "The court hearing will resume on Wednesday.", friday) == []


def test_a_date_that_names_a_committee_is_not_its_meeting_day() -> None:
    july = datetime(2022, 7, 20, 15, tzinfo=UTC)  # a Wednesday
    text = "The January 6 committee will hold a prime-time hearing on Thursday night."
    [hearing] = extract_events("", text, july)
    assert hearing.dates.start == date(2022, 7, 21)
    assert extract_events("", "The January 6 committee will meet its lawyers.", july) == []


def test_the_russian_present_of_the_day_is_a_meeting_under_way() -> None:
    assert extract_events("Сегодня в Казани проходит саммит БРИКС", "", ANNOUNCED) == []
    [tomorrow] = extract_events("Завтра в Казани проходит саммит БРИКС", "", ANNOUNCED)
    assert tomorrow.dates.start == date(2025, 11, 29)
    [today] = extract_events("Сегодня в Казани открывается саммит БРИКС", "", ANNOUNCED)
    assert today.dates.start == ANNOUNCED.date()


FEED_OF_MONDAY_EVENING = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>News</title><link>https://news.test/</link>
<item><title>US and Russian officials will hold talks in Geneva on Monday</title>
<link>https://news.test/talks</link><pubDate>Mon, 10 Jan 2022 21:09:04 -0500</pubDate></item>
<item><title>Leaders will hold talks in Paris on Monday</title>
<link>https://news.test/paris</link><pubDate>2022-01-10T21:09:04Z</pubDate></item>
</channel></rss>"""


def test_a_weekday_is_read_on_the_writer_s_clock() -> None:
    entries = parse_feed(FEED_OF_MONDAY_EVENING, url="https://news.test/feed").entries
    new_york, utc = (
        normalize_entry(entry, source_url="https://news.test/feed", source_name="News")
        for entry in entries
    )
    assert new_york.published == datetime(2022, 1, 11, 2, 9, 4, tzinfo=UTC)  # Tuesday in UTC
    [local] = extract_events(new_york.title, "", new_york.local_published or ANNOUNCED)
    assert local.dates.start == date(2022, 1, 10)
    [on_utc] = extract_events(utc.title, "", utc.local_published or ANNOUNCED)
    assert on_utc.dates.start == date(2022, 1, 10)
    assert utc_offset_of("Mon, 10 Jan 2022 21:09:04 +2300") is None
    assert utc_offset_of("not a date") is None
