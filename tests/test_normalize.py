from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import FeedEntry
from bot.sources.normalize import canonical_url, clean_title, html_to_text, normalize_entry


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTP://WWW.Example.COM:80/World/Story?b=2&a=1&utm_source=rss&UTM_Medium=x#comments",
            "http://www.example.com/World/Story?a=1&b=2",
        ),
        ("https://ex.com:443/a?fbclid=1&gclid=2&id=5", "https://ex.com/a?id=5"),
        ("https://ex.com:8443/a?ref_src=twsrc&smid=tw&ito=x&ocid=y", "https://ex.com:8443/a"),
        (
            "https://www.dailymail.example/news/index.html?ITO=1490&ns_mchannel=rss&ns_campaign=1490",
            "https://www.dailymail.example/news/index.html",
        ),
        (
            "https://news.google.com/rss/articles/CBMiK?oc=5",
            "https://news.google.com/rss/articles/CBMiK",
        ),
        (
            "https://ex.com/path?mc_cid=1&mc_eid=2&yclid=3&igshid=4&_ga=5&msclkid=6",
            "https://ex.com/path",
        ),
        ("https://ex.com/a?x=&y=1", "https://ex.com/a?x=&y=1"),
        ("https://ex.com", "https://ex.com/"),
        ("https://user:secret@ex.com/a", "https://ex.com/a"),
        ("  https://ex.com/a\n/b  ", "https://ex.com/a/b"),
        (
            "https://пример.рф/статья",
            "https://xn--e1afmkfd.xn--p1ai/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F",
        ),
        ("not a url", "not a url"),
        ("", ""),
        ("  mailto:desk@example.com ", "mailto:desk@example.com"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("https://ex.com:99999/", "https://ex.com:99999/"),
        ("https://[broken/", "https://[broken/"),
        ("http://", "http://"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_path_case_and_sorts_query() -> None:
    assert canonical_url("https://ex.com/India/Modi?z=1&a=2") == "https://ex.com/India/Modi?a=2&z=1"


def test_canonical_url_is_idempotent_on_examples() -> None:
    for url in ("https://ex.com/a b?q=ü&utm_x=1", "http://EX.com:80/?b&a"):
        once = canonical_url(url)
        assert canonical_url(once) == once


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        ["", "http://", "https://", "HTTPS://", "https://xn--", "http://[", "https://a.b:"]
    ),
    st.text(max_size=200),
)
def test_canonical_url_never_raises(prefix: str, text: str) -> None:
    assert isinstance(canonical_url(prefix + text), str)


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(
        r"https?://[a-z]{1,10}\.[a-z]{2,3}(/[A-Za-z0-9_-]{0,8}){0,3}(\?[a-z]{1,5}=[a-z0-9]{0,5})?",
        fullmatch=True,
    )
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_html_to_text_blocks_and_entities() -> None:
    html = (
        "<div><h2>Headline</h2><p>First&nbsp;paragraph with <b>bold</b> and <a href='#'>link</a>."
        "</p><script>var x = 1;</script><style>p{}</style><p>Second<br>line</p>"
        "<ul><li>one</li><li>two</li></ul><!-- comment --><table><tr><td>a</td><td>b</td></tr>"
        "</table></div>tail"
    )
    assert (
        html_to_text(html)
        == "Headline\nFirst paragraph with bold and link.\nSecond\nline\none\ntwo\na b\ntail"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("", ""),
        ("   \n ", ""),
        ("plain &amp; simple", "plain & simple"),
        ("<p>double &amp;nbsp; escaped &amp;#8217;</p>", "double escaped ’"),
        ("once &amp;nbsp; more", "once &nbsp; more"),
        ("AT&amp;T &lt;b&gt;not a tag&lt;/b&gt;", "AT&T <b>not a tag</b>"),
        ("Q&A, R&D and &para (no semicolon)", "Q&A, R&D and &para (no semicolon)"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("</p></div>", ""),
        ("<<<>>>", "<<<>>>"),
        ('<?xml version="1.0" encoding="utf-8"?><p>declared</p>', "declared"),
        ("\x00\x01<p>control\x0b chars</p>", "control chars"),
        ("<noscript>enable JS</noscript><p>text</p>", "text"),
        ("<p>Фото: <img src=x alt='pic'> Текст</p>", "Фото: Текст"),
        ("<p>मोदी ने कहा।</p><p>दूसरा</p>", "मोदी ने कहा।\nदूसरा"),
        ("<div>" * 3000 + "deep" + "</div>" * 3000, "deep"),
    ],
)
def test_html_to_text_edge_cases(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_html_to_text_limit() -> None:
    assert html_to_text("<p>" + "word " * 100 + "</p>", limit=20) == "word word word word"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;#ab pdiv=\"'!-\n\x00é")), max_size=300))
def test_html_to_text_never_raises(html: str) -> None:
    text = html_to_text(html)
    assert "\n\n" not in text and text == text.strip()


def test_clean_title() -> None:
    assert clean_title("  Putin&#8217;s <em>visit</em>:\n Modi &amp; Putin\thold summit ") == (
        "Putin’s visit: Modi & Putin hold summit"
    )
    assert clean_title("<p>One</p><p>Two</p>") == "One Two"
    assert clean_title("") == ""


def test_normalize_entry() -> None:
    published = datetime.datetime(2024, 7, 9, 9, 0, tzinfo=datetime.UTC)
    entry = FeedEntry(
        title="Modi &amp; Putin hold <b>summit</b>",
        link="https://news.example.com/world/modi-putin?utm_source=rss#top",
        guid="urn:1",
        published=published,
        content_html=(
            "<p>Modi &amp; Putin hold summit</p><p>MOSCOW (Reuters) - The leaders met on "
            "Tuesday. They discussed oil.</p><p>Read more</p>"
        ),
        language="en",
    )
    item = normalize_entry(entry, source_url="https://news.example.com/rss", source_name="Example")
    assert item.title == "Modi & Putin hold summit"
    assert item.url == "https://news.example.com/world/modi-putin"
    assert item.guid == "urn:1" and item.published == published and item.language == "en"
    assert item.text.splitlines() == [
        "Modi & Putin hold summit",
        "MOSCOW (Reuters) - The leaders met on Tuesday. They discussed oil.",
        "Read more",
    ]
    assert item.summary == "The leaders met on Tuesday. They discussed oil."
    assert item.source_name == "Example" and item.site == "news.example.com"


def test_normalize_entry_without_title_or_link() -> None:
    entry = FeedEntry(
        title="",
        link="",
        content_html="<p>India and Russia signed a deal on Tuesday. More later.</p>",
    )
    item = normalize_entry(entry, source_url="https://x.example/rss", source_name="X")
    assert item.url == ""
    assert item.title == "India and Russia signed a deal on Tuesday. More later."
