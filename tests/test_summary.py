from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.normalize import html_to_blocks
from bot.summarize.summary import ELLIPSIS, strip_dateline, summarize, summarize_blocks

LEAD = "Prime Minister Narendra Modi met President Vladimir Putin in Moscow on Tuesday."
SECOND = "The leaders discussed energy and trade."


def test_cookie_banner_before_the_lead() -> None:
    page = "\n".join(
        [
            "We use cookies to give you the best experience on our website.",
            "By continuing to use this site you agree to our use of cookies.",
            "Accept all cookies",
            "Menu",
            "Skip to content",
            LEAD,
            SECOND,
        ]
    )
    assert summarize(page) == f"{LEAD} {SECOND}"


@pytest.mark.parametrize(
    "line",
    [
        "We use cookies to improve your experience. Accept all cookies",
        "This website uses cookies. Cookie settings",
        "By continuing to use this site you consent to our Privacy Policy.",
        "Accept all cookies",
        "Мы используем файлы cookie, чтобы сайт работал лучше.",
        "Menu",
        "Skip to main content",
        "More information",
        "Read more",
        "Read more »",
        "Continue reading…",
        "Share on Facebook",
        "Share this article",
        "Share",
        "Facebook Twitter WhatsApp Email",
        "Follow us on Twitter and Instagram",
        "Subscribe to our newsletter",
        "Sign up for our daily newsletter to get the top stories",
        "© 2024 Example News Ltd. All rights reserved.",
        "Copyright © 2024 Example Media",
        "Copyright 2024 Associated Newspapers",
        "All rights reserved.",
        "Advertisement",
        "ADVERTISEMENT",
        "Реклама",
        "विज्ञापन",
        "Click here to download the app",
        "Photo: Reuters",
        "Photo credit: Getty Images",
        "(Photo: PTI)",
        "File photo",
        "Фото: РИА Новости",
        "फोटो: पीटीआई",
        "By John Smith",
        "By Asha Rao and Dmitry Petrov, Reuters",
        "Updated: Dec 5, 2024 10:30 IST",
        "Published: 4 December 2024",
        "Last updated on July 9, 2024",
        "Also read: Modi lands in Moscow",
        "ALSO READ | Modi lands in Moscow",
        "Читайте также: Моди прилетел в Москву",
        "यह भी पढ़ें: मोदी मॉस्को पहुंचे",
        "The post Modi in Moscow appeared first on Example News.",
        "5 min read",
    ],
)
def test_chrome_line_before_the_lead(line: str) -> None:
    assert summarize(f"{line}\n{LEAD}") == LEAD


@pytest.mark.parametrize(
    "line",
    [
        LEAD,
        "By 2030, India aims to double its trade with Russia.",
        "Copyright disputes have hit the film industry hard this year.",
        "Photographs of the summit were released by the Kremlin.",
        "The EU fined the company for breaking rules on data.",
        "Share prices in Mumbai rose after the summit.",
        "Menu prices in Moscow restaurants went up again.",
    ],
)
def test_news_lines_are_kept(line: str) -> None:
    assert summarize(line) == line
    assert summarize(f"Menu\n{line}") == line


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("NEW DELHI (Reuters) - Modi met Putin.", "Modi met Putin."),
        ("MOSCOW, Dec 5 (Reuters) — Modi met Putin.", "Modi met Putin."),
        ("New Delhi, Dec 4 (PTI): Modi met Putin.", "Modi met Putin."),
        ("NEW DELHI: Modi met Putin.", "Modi met Putin."),
        ("MOSCOW — Modi met Putin.", "Modi met Putin."),
        ("WASHINGTON, July 9, 2024 - Modi met Putin.", "Modi met Putin."),
        ("London, 5 December - Modi met Putin.", "Modi met Putin."),
        ("(Reuters) - Modi met Putin.", "Modi met Putin."),
        ("МОСКВА, 5 дек — РИА Новости. Путин встретился с Моди.", "Путин встретился с Моди."),
        ("नई दिल्ली, 4 दिसंबर (भाषा): मोदी पुतिन से मिले।", "मोदी पुतिन से मिले।"),
        ("मास्को: मोदी पुतिन से मिले।", "मोदी पुतिन से मिले।"),
        # Not datelines:
        ("Putin: we will meet again.", "Putin: we will meet again."),
        ("Modi met Putin in Moscow.", "Modi met Putin in Moscow."),
    ],
)
def test_datelines(text: str, rest: str) -> None:
    assert strip_dateline(text) == rest
    assert summarize(text) == rest


def test_leading_title_is_dropped() -> None:
    title = "Modi, Putin hold summit in Moscow"
    assert summarize(f"{title}\n{LEAD}", title=title) == LEAD
    assert summarize(f"Modi, Putin hold summit in Moscow. {LEAD}", title=title) == LEAD
    assert summarize(LEAD, title="Something else entirely") == LEAD


def test_whole_sentences_within_limit() -> None:
    text = f"{LEAD} {SECOND} A third sentence follows here."
    assert summarize(text, limit=len(LEAD) + len(SECOND) + 1) == f"{LEAD} {SECOND}"
    assert summarize(text, limit=len(LEAD) + 10) == LEAD
    assert summarize(text, limit=1000) == text


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Modi met Dr. Rao at No. 10 Downing St. in London on Jan. 5 this year.",
        "The U.S. and the U.K. said so, e.g. in a statement at 5 p.m. on Monday.",
        "J. K. Rowling and A. P. J. Abdul Kalam were named.",
        "В. В. Путин отметил рост товарооборота в 2024 г. и др. показатели.",
    ],
)
def test_abbreviations_do_not_end_sentences(text: str) -> None:
    assert summarize(text + " Next sentence here.", limit=len(text) + 2) == text


def test_sentence_ends_with_quotes_and_marks() -> None:
    text = "He said: “We are ready.” Then he left! Did he? Yes… Maybe."
    assert summarize(text, limit=25) == "He said: “We are ready.”"
    assert summarize(text, limit=40) == "He said: “We are ready.” Then he left!"


def test_long_first_sentence_is_cut_at_a_word() -> None:
    text = "India and Russia " + "agreed to expand cooperation " * 20 + "today."
    summary = summarize(text, limit=100)
    assert summary.endswith(ELLIPSIS)
    assert len(summary) <= 101
    assert text.startswith(summary[:-1])
    assert summary[-2] != " "


def test_long_word_without_spaces() -> None:
    summary = summarize("x" * 500 + " is a very long word.", limit=50)
    assert summary == "x" * 50 + ELLIPSIS


def test_russian() -> None:
    text = (
        "Реклама\nМОСКВА, 9 июл — РИА Новости. Президент России Владимир Путин провел переговоры "
        "с премьер-министром Индии Нарендрой Моди. Стороны обсудили торговлю и энергетику. "
        "Читайте также: Моди прилетел в Москву"
    )
    assert summarize(text, limit=120) == (
        "Президент России Владимир Путин провел переговоры с премьер-министром Индии "
        "Нарендрой Моди."
    )
    assert summarize(text) == (
        "Президент России Владимир Путин провел переговоры с премьер-министром Индии "
        "Нарендрой Моди. Стороны обсудили торговлю и энергетику."
    )


def test_hindi() -> None:
    text = (
        "नई दिल्ली: प्रधानमंत्री नरेंद्र मोदी ने आज मॉस्को में राष्ट्रपति पुतिन से मुलाकात की। "
        "दोनों नेताओं ने व्यापार पर चर्चा की। तीसरा वाक्य यहां है।\nयह भी पढ़ें: मोदी का दौरा"
    )
    first = "प्रधानमंत्री नरेंद्र मोदी ने आज मॉस्को में राष्ट्रपति पुतिन से मुलाकात की।"
    assert summarize(text, limit=len(first) + 5) == first
    assert summarize(text).endswith("तीसरा वाक्य यहां है।")


def test_trailing_read_more_is_dropped() -> None:
    assert summarize(f"{LEAD} [...]") == LEAD
    assert summarize(f"{LEAD} Read more") == LEAD


def test_inline_photo_credit_is_dropped() -> None:
    assert summarize("The summit opened in Kazan (Photo: AP) on Tuesday.") == (
        "The summit opened in Kazan on Tuesday."
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "Menu\nShare\nAdvertisement"])
def test_empty_input(text: str) -> None:
    assert summarize(text) == ""
    assert summarize(LEAD, limit=0) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=800), st.text(max_size=80), st.integers(min_value=1, max_value=400))
def test_never_longer_than_the_limit(text: str, title: str, limit: int) -> None:
    summary = summarize(text, title=title, limit=limit)
    assert len(summary) <= limit + 1
    assert len(summary) <= limit or summary.endswith(ELLIPSIS)


def test_lines_without_final_punctuation_are_separated() -> None:
    standfirst = (
        "Doctors and a UN rapporteur say that aid is being blocked in areas held by the resistance"
    )
    text = f"{standfirst}\nThe junta denies it."
    assert summarize(text) == f"{standfirst}. The junta denies it."


# --- blocks from feed HTML: link density and neighbours ------------------------------------


STANDFIRST = "Doctors and a UN rapporteur say aid is being blocked in areas held by the resistance"
JUNTA = "The junta denies it and says that aid convoys reach every region the earthquake hit."


def _html_summary(html: str, title: str = "") -> str:
    return summarize_blocks(html_to_blocks(html), title=title)


def test_related_links_between_standfirst_and_body_are_dropped() -> None:
    html = (
        f"<p>{STANDFIRST}</p>"
        '<ul><li><a href="https://news.test/guide">Aftermath of the earthquake – a visual guide'
        f"</a></li></ul><p>{JUNTA}</p>"
        '<a href="https://news.test/story">Continue reading...</a>'
    )
    assert _html_summary(html) == f"{STANDFIRST}. {JUNTA}"


def test_a_lead_with_a_few_inline_links_is_kept() -> None:
    html = (
        '<p>The earthquake that <a href="https://news.test/a">hit central Myanmar</a> on Friday '
        "has killed more than 2,700 people, the junta said.</p>"
    )
    assert _html_summary(html) == (
        "The earthquake that hit central Myanmar on Friday has killed more than 2,700 people, "
        "the junta said."
    )


@pytest.mark.parametrize(
    "teaser", ["Два варианта.", "Трискаидекафобия.", "Przez mandat za złe parkowanie."]
)
def test_a_one_line_teaser_is_the_lead(teaser: str) -> None:
    assert summarize(teaser) == teaser
    assert _html_summary(f"<p>{teaser}</p>") == teaser


def test_title_counter_date_and_dots_never_reach_the_summary() -> None:
    title = "Putin’s India visit defies Washington"
    text = "\n".join(
        ["menu_open Columnists", "More information . Close", title, "38 1", "30.11.2025",
         f"{LEAD} {SECOND}", "........", "© Blitz"]
    )  # fmt: skip
    assert summarize(text, title=f"{title} | QOSHE") == f"{LEAD} {SECOND}"


def test_a_share_prompt_after_the_lead_is_dropped() -> None:
    text = f"{LEAD} {SECOND}\nShare this article on Facebook"
    assert summarize(text) == f"{LEAD} {SECOND}"
    assert summarize(f"{LEAD} Follow us on Twitter for more.") == LEAD


def test_a_syndication_note_is_not_a_lead() -> None:
    text = (
        'A version of this article first appeared in the "Reliable Sources" newsletter. '
        "You can sign up for free right here."
    )
    assert summarize(text) == ""


@pytest.mark.parametrize(
    "html",
    [
        "<p>An unclosed <a href='https://news.test/x'>paragraph",
        "<<<>>> </p></a> &amp;nbsp; <p>",
        "\x00<p>\x1b</p>",
        "<div>" * 5000 + LEAD + "</div>" * 5000,
        "<p>" + "word " * 100_000 + "</p>",
    ],
)
def test_hostile_markup_never_breaks_the_summary(html: str) -> None:
    summary = _html_summary(html)
    assert len(summary) <= 301
    assert "<" not in summary and "\x00" not in summary
