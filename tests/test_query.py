from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import defaults
from bot.match import (
    MAX_QUERY_CHARS,
    Aliases,
    MatchDoc,
    MatchResult,
    PreparedDoc,
    Query,
    QueryError,
    load_aliases,
    match,
    normalize,
    parse_query,
    prepare,
    tokenize,
)
from bot.match.query import And, Lang, Near, Not, Or, Site, Term

ALIASES_PATH = defaults.ALIASES


@pytest.fixture(scope="module")
def aliases() -> Aliases:
    return load_aliases(ALIASES_PATH)


def doc(title: str, text: str = "", site: str = "", language: str | None = None) -> MatchDoc:
    return MatchDoc(title=title, text=text, site=site, language=language)


def hits(
    query: str,
    title: str,
    text: str = "",
    aliases: Aliases | None = None,
    site: str = "",
    language: str | None = None,
) -> bool:
    return match(parse_query(query, aliases), doc(title, text, site, language)) is not None


def error_of(query: str) -> str:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    return str(info.value)


# --- tokens -------------------------------------------------------------------------------------


class TestTokenize:
    def test_case_and_latin_accents_fold(self) -> None:
        assert tokenize("Zelenskýy ZELENSKYY Café") == ["zelenskyy", "zelenskyy", "cafe"]

    def test_greek_and_cyrillic_accents_fold(self) -> None:
        assert tokenize("Αθήνα Ёлка") == ["αθηνα", "елка"]

    def test_casefold_expands_sharp_s(self) -> None:
        assert tokenize("Straße") == ["strasse"]

    def test_devanagari_keeps_its_vowel_signs(self) -> None:
        assert tokenize("मोदी ने कहा") == ["मोदी", "ने", "कहा"]
        assert normalize("मोदी") == "मोदी"

    def test_apostrophes_split(self) -> None:
        assert tokenize("Putin's Putin’s Putinʼs") == ["putin", "s"] * 3

    def test_punctuation_and_hyphens_split(self) -> None:
        assert tokenize("New-Delhi, U.S.; (G20)!") == ["new", "delhi", "u", "s", "g20"]

    def test_invisible_joiners_and_soft_hyphens_vanish(self) -> None:
        assert tokenize("Puti\u00adn मो\u200dदी") == ["putin", "मोदी"]

    def test_compatibility_forms_fold(self) -> None:
        assert tokenize("ＰＵＴＩＮ ﬁnal") == ["putin", "final"]

    def test_chinese_splits_per_character(self) -> None:
        assert tokenize("普京和莫迪") == ["普", "京", "和", "莫", "迪"]

    def test_empty_and_symbols(self) -> None:
        assert tokenize("") == []
        assert tokenize(" — & … ") == []


# --- parsing ------------------------------------------------------------------------------------


class TestParse:
    def test_plain_words_are_anded(self) -> None:
        q = parse_query("Putin Modi")
        assert isinstance(q.ast, And)
        assert [c.label for c in q.ast.children if isinstance(c, Term)] == ["Putin", "Modi"]

    def test_explicit_and_is_the_same_as_a_space(self) -> None:
        assert parse_query("Putin AND Modi").ast == parse_query("Putin Modi").ast

    def test_lowercase_keywords_are_words(self) -> None:
        q = parse_query("war or peace and not")
        assert isinstance(q.ast, And)
        assert len(q.ast.children) == 5

    def test_or_binds_tighter_than_and(self) -> None:
        q = parse_query("Putin summit OR visit")
        assert q.describe() == "all of: putin, (summit or visit)"

    def test_single_word(self) -> None:
        q = parse_query("  Putin ")
        assert q.text == "Putin"
        assert q.ast == Term("Putin", (("putin",),))

    def test_phrase(self) -> None:
        q = parse_query('"Vladimir Putin"')
        assert q.ast == Term('"Vladimir Putin"', (("vladimir", "putin"),))

    def test_typographic_quotes(self) -> None:
        assert parse_query("“Vladimir Putin”").ast.variants == (("vladimir", "putin"),)  # type: ignore[union-attr]
        assert parse_query("«Владимир Путин»").ast.variants == (("владимир", "путин"),)  # type: ignore[union-attr]

    def test_wildcard(self) -> None:
        q = parse_query("Путин*")
        assert q.ast == Term("Путин*", (("путин",),), prefix=True)

    def test_nested_groups(self) -> None:
        q = parse_query("a ((b OR c) d)")
        assert q.describe() == "all of: a, (b or c), d"
        q = parse_query("a OR (b (c OR d))")
        assert q.describe() == "any of: a, (b and (c or d))"

    def test_exclusions(self) -> None:
        for text in ("Modi -cricket", "Modi NOT cricket", "Modi AND NOT cricket", "Modi –cricket"):
            q = parse_query(text)
            assert isinstance(q.ast, And), text
            assert isinstance(q.ast.children[1], Not), text

    def test_excluded_phrase_and_group(self) -> None:
        assert parse_query('Modi -"Test match"').describe() == 'all of: modi; none of: "test match"'
        q = parse_query("Modi -(cricket OR IPL)")
        assert q.describe() == "all of: modi; none of: (cricket or ipl)"

    def test_lone_dash_is_punctuation(self) -> None:
        assert parse_query("Putin - Modi").describe() == "all of: putin, modi"

    def test_near(self) -> None:
        q = parse_query('Putin NEAR/5 "Narendra Modi"')
        assert isinstance(q.ast, Near)
        assert q.ast.distance == 5
        assert q.ast.right.variants == (("narendra", "modi"),)

    def test_near_is_case_insensitive(self) -> None:
        assert isinstance(parse_query("Putin near/3 Modi").ast, Near)

    def test_title_field(self) -> None:
        q = parse_query('title:Putin title:"New Delhi" title:Пут*')
        assert isinstance(q.ast, And)
        terms = q.ast.children
        assert all(isinstance(t, Term) and t.title_only for t in terms)
        assert [t.label for t in terms if isinstance(t, Term)] == [
            "title:Putin",
            'title:"New Delhi"',
            "title:Пут*",
        ]

    def test_title_group(self) -> None:
        q = parse_query("title:(Putin OR Modi) summit")
        assert q.describe() == "all of: (title:putin or title:modi), summit"

    def test_site_field(self) -> None:
        q = parse_query("Modi site:https://www.BBC.co.uk/news/world")
        assert isinstance(q.ast, And)
        assert q.ast.children[1] == Site("bbc.co.uk")

    def test_unicode_site_becomes_punycode(self) -> None:
        q = parse_query("Путин site:президент.рф")
        assert isinstance(q.ast, And)
        assert q.ast.children[1] == Site("xn--d1abbgf6aiiy.xn--p1ai")

    def test_lang_field(self) -> None:
        q = parse_query("Modi lang:RU")
        assert isinstance(q.ast, And)
        assert q.ast.children[1] == Lang("ru")

    def test_unknown_field_is_plain_text(self) -> None:
        q = parse_query("foo:bar")
        assert q.ast == Term("foo:bar", (("foo", "bar"),))

    def test_symbol_only_words_are_ignored(self) -> None:
        assert parse_query("Putin & Modi").describe() == "all of: putin, modi"

    def test_repeated_word_is_kept_once(self) -> None:
        assert parse_query("Putin Putin").ast == Term("Putin", (("putin",),))

    def test_aliases_expand_plain_words(self, aliases: Aliases) -> None:
        q = parse_query("Putin", aliases)
        assert isinstance(q.ast, Term)
        assert q.ast.variants[0] == ("putin",)
        assert ("путину",) in q.ast.variants
        assert ("vladimir", "putin") in q.ast.variants
        assert ("पुतिन",) in q.ast.variants

    def test_aliases_match_any_member(self, aliases: Aliases) -> None:
        q = parse_query("Путина", aliases)
        assert isinstance(q.ast, Term)
        assert q.ast.variants[0] == ("путина",)
        assert ("putin",) in q.ast.variants

    def test_multiword_plain_word_finds_its_alias_set(self, aliases: Aliases) -> None:
        q = parse_query("New-Delhi", aliases)
        assert isinstance(q.ast, Term)
        assert ("दिल्ली",) in q.ast.variants

    def test_quoted_and_wildcard_words_skip_aliases(self, aliases: Aliases) -> None:
        assert parse_query('"Putin"', aliases).ast.variants == (("putin",),)  # type: ignore[union-attr]
        assert parse_query("Putin*", aliases).ast.variants == (("putin",),)  # type: ignore[union-attr]

    def test_query_is_hashable_and_comparable(self) -> None:
        assert parse_query("a b") == parse_query("a b")
        assert len({parse_query("a b"), parse_query("a b")}) == 1


class TestParseErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "The query is empty. Type a few words to watch, e.g. Putin Modi summit."),
            ("   ", "The query is empty. Type a few words to watch, e.g. Putin Modi summit."),
            ("-cricket", "A query needs at least one word to look for, not only exclusions."),
            (
                "NOT cricket -IPL",
                "A query needs at least one word to look for, not only exclusions.",
            ),
            (
                "site:bbc.com lang:en",
                "A query needs at least one word to look for; site: and lang: only narrow it.",
            ),
            ("& …", "A query needs at least one word to look for."),
            ("(Putin", "Unbalanced parentheses: a '(' is never closed."),
            ("((Putin) Modi", "Unbalanced parentheses: a '(' is never closed."),
            ("Putin)", "Unbalanced parentheses: a ')' has no matching '('."),
            ("Putin) (Modi", "Unbalanced parentheses: a ')' has no matching '('."),
            ('"Vladimir Putin', "Unbalanced quotes: a '\"' is never closed."),
            ("Putin ()", "Empty parentheses: put some words inside '( )'."),
            ('Putin ""', "Empty phrase: put some words inside the quotes."),
            ('Putin "…"', "Empty phrase: put some words inside the quotes."),
            ("Putin OR", "Dangling OR: it needs a word on both sides."),
            ("OR Putin", "Dangling OR: it needs a word on both sides."),
            ("Putin OR OR Modi", "Dangling OR: it needs a word on both sides."),
            ("(Putin OR) Modi", "Dangling OR: it needs a word on both sides."),
            ("Putin AND", "Dangling AND: it needs a word on both sides."),
            ("AND Putin", "Dangling AND: it needs a word on both sides."),
            ("Putin AND OR Modi", "Dangling AND: it needs a word on both sides."),
            ("Putin NOT", "Dangling NOT: it must be followed by a word, phrase or group."),
            ("Putin (NOT)", "Dangling NOT: it must be followed by a word, phrase or group."),
            (
                "Putin -)",
                "Nothing to exclude after '-': write it right before a word, e.g. -cricket.",
            ),
            ("Putin NOT -Modi", "Double exclusion: use NOT or '-' only once before a word."),
            ("Putin --Modi", "Double exclusion: use NOT or '-' only once before a word."),
            (
                "Putin OR -Modi",
                "Each side of OR needs a word to look for; an exclusion or a site:/lang: filter"
                " can't stand there alone.",
            ),
            (
                "Putin OR site:bbc.com",
                "Each side of OR needs a word to look for; an exclusion or a site:/lang: filter"
                " can't stand there alone.",
            ),
            (
                "Putin OR (-Modi lang:ru)",
                "Each side of OR needs a word to look for; an exclusion or a site:/lang: filter"
                " can't stand there alone.",
            ),
            ("Putin NEAR Modi", "NEAR needs a distance from 1 to 50, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/0 Modi", "NEAR needs a distance from 1 to 50, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/51 Modi", "NEAR needs a distance from 1 to 50, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/x Modi", "NEAR needs a distance from 1 to 50, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/٥ Modi", "NEAR needs a distance from 1 to 50, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/5", "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."),
            ("NEAR/5 Modi", "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."),
            ("(a b) NEAR/5 Modi", "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/5 (a b)", "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."),
            ("Putin NEAR/5 -Modi", "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."),
            (
                "site:bbc.com NEAR/5 Modi",
                "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi.",
            ),
            (
                "a NEAR/5 b NEAR/5 c",
                "NEAR links exactly two words or phrases; combine more with AND.",
            ),
            (
                "Putin *",
                "A bare '*' would match everything; put at least 2 letters before it, e.g. Путин*.",
            ),
            ("Putin P*", "A wildcard needs at least 2 letters before the '*', e.g. Путин*."),
            ("Putin É*", "A wildcard needs at least 2 letters before the '*', e.g. Путин*."),
            ("Putin &*", "A wildcard needs at least 2 letters before the '*', e.g. Путин*."),
            ("Pu*tin", "A '*' can only end a word, e.g. Путин*."),
            ("*Putin", "A '*' can only end a word, e.g. Путин*."),
            (
                "Putin title:",
                "'title:' needs a word, phrase or group right after it, e.g. title:Putin.",
            ),
            (
                "title: Putin",
                "'title:' needs a word, phrase or group right after it, e.g. title:Putin.",
            ),
            (
                "title:(Putin site:bbc.com)",
                "'title:' applies to words and phrases, not to site: or lang:.",
            ),
            ("Modi site:", "'site:' needs a web address, e.g. site:bbc.com."),
            ("Modi site:bbc", "'site:' needs a web address, e.g. site:bbc.com."),
            ("Modi site:bbc..com", "'site:' needs a web address, e.g. site:bbc.com."),
            ("Modi lang:", "'lang:' needs a language code, e.g. lang:ru."),
            ("Modi lang:russian", "'lang:' needs a language code, e.g. lang:ru."),
            ("Modi lang:r", "'lang:' needs a language code, e.g. lang:ru."),
        ],
    )
    def test_message(self, text: str, message: str) -> None:
        assert error_of(text) == message

    def test_query_error_is_a_value_error_with_message(self) -> None:
        with pytest.raises(ValueError, match="Unbalanced") as info:
            parse_query("(a")
        assert isinstance(info.value, QueryError)
        assert info.value.message == str(info.value)

    def test_length_limit(self) -> None:
        assert parse_query("a" * MAX_QUERY_CHARS).text == "a" * MAX_QUERY_CHARS
        assert error_of("a" * (MAX_QUERY_CHARS + 1)) == (
            "The query is too long: at most 300 characters."
        )

    def test_term_limit(self) -> None:
        words = [f"w{i}" for i in range(31)]
        parse_query(" ".join(words[:30]))
        assert error_of(" ".join(words)) == "Too many words: at most 30 per query."

    def test_term_limit_counts_exclusions_and_filters(self) -> None:
        words = [f"w{i}" for i in range(28)]
        parse_query(" ".join([*words, "-x", "site:bbc.com"]))
        assert error_of(" ".join([*words, "-x", "site:bbc.com", "lang:en"])) == (
            "Too many words: at most 30 per query."
        )

    def test_depth_limit(self) -> None:
        parse_query("(" * 10 + "a" + ")" * 10)
        assert error_of("(" * 11 + "a" + ")" * 11) == (
            "Too deeply nested: at most 10 levels of parentheses."
        )

    def test_hostile_input_is_rejected(self) -> None:
        assert error_of("(" * 300) == "Too deeply nested: at most 10 levels of parentheses."
        assert error_of("NOT " * 75) == "Double exclusion: use NOT or '-' only once before a word."
        assert error_of("a OR " * 59 + "a") == "Too many words: at most 30 per query."
        assert error_of("a OR " * 61) == "The query is too long: at most 300 characters."

    @settings(deadline=None)
    @given(st.text(max_size=120))
    def test_any_text_parses_or_raises_query_error(self, text: str) -> None:
        try:
            query = parse_query(text)
        except QueryError as e:
            assert str(e)
        else:
            assert query.describe().startswith(("all of: ", "any of: "))
            match(query, doc(text, text))

    @settings(deadline=None)
    @given(
        st.lists(
            st.sampled_from(
                [
                    *("Putin", "Modi", "OR", "AND", "NOT", "-", "(", ")", '"', "NEAR/3"),
                    *("title:", "*", "Пут*", "site:bbc.com", "lang:ru", "x:y", "&"),
                ]
            ),
            max_size=14,
        )
    )
    def test_operator_soup_parses_or_raises_query_error(self, parts: list[str]) -> None:
        for joiner in (" ", ""):
            with contextlib.suppress(QueryError):
                parse_query(joiner.join(parts))


class TestDescribe:
    @pytest.mark.parametrize(
        ("text", "echo"),
        [
            (
                "Putin Modi (summit OR visit) -cricket",
                "all of: putin, modi, (summit or visit); none of: cricket",
            ),
            ("Putin", "all of: putin"),
            ("Putin OR Modi", "any of: putin, modi"),
            ("(Putin Modi) OR Xi", "any of: (putin and modi), xi"),
            ("(Putin -Biden) OR Xi", "any of: (putin and not biden), xi"),
            ('"Vladimir Putin" Путин*', 'all of: "vladimir putin", путин*'),
            ("Putin NEAR/5 Modi", "all of: putin within 5 words of modi"),
            ("Putin NEAR/1 Modi", "all of: putin within 1 word of modi"),
            (
                'title:"Putin Modi" site:www.bbc.com lang:ru',
                'all of: title:"putin modi", site:bbc.com, lang:ru',
            ),
            (
                "Modi -(cricket IPL) NOT site:espn.com",
                "all of: modi; none of: (cricket and ipl), site:espn.com",
            ),
            ("ZELENSKÝY", "all of: zelenskyy"),
        ],
    )
    def test_echo(self, text: str, echo: str) -> None:
        assert parse_query(text).describe() == echo


# --- matching -----------------------------------------------------------------------------------


class TestMatch:
    def test_all_words_must_appear(self) -> None:
        assert hits("Putin Modi", "Putin meets Modi")
        assert not hits("Putin Modi", "Putin meets Xi")

    def test_words_may_be_split_between_title_and_text(self) -> None:
        assert hits("Putin Modi", "Putin arrives", "He will meet Modi tomorrow")

    def test_case_insensitive(self) -> None:
        assert hits("putin", "PUTIN SPEAKS")
        assert hits("ПУТИН", "путин выступил")

    def test_diacritic_insensitive_both_ways(self) -> None:
        assert hits("Zelenskyy", "Zelenskýy visits Kyiv")
        assert hits("Zelenskýy", "Zelenskyy visits Kyiv")
        assert hits("Ёлка", "Новогодняя елка")

    def test_whole_words_only(self) -> None:
        assert not hits("Modi", "Modification of the rules")
        assert not hits("Modi", "Narendramodi")
        assert hits("Modi", "Narendra Modi, 73")

    def test_apostrophes(self) -> None:
        assert hits("Putin", "Putin's visit")
        assert hits("Putin", "Putin’s visit")
        assert hits("Putin's", "Putin’s visit")

    def test_devanagari(self) -> None:
        assert hits("मोदी", "मोदी ने कहा")
        # Stripping the vowel signs would turn मोदी into मद and match unrelated words.
        assert not hits("मद", "मोदी ने कहा")
        assert not hits("Modi", "मोदी ने कहा")

    def test_or(self) -> None:
        q = "Putin (summit OR visit)"
        assert hits(q, "Putin summit")
        assert hits(q, "Putin visit")
        assert not hits(q, "Putin speech")

    def test_exclusion(self) -> None:
        assert hits("Modi -cricket", "Modi speaks")
        assert not hits("Modi -cricket", "Modi watches cricket")
        assert not hits("Modi -cricket", "Modi speaks", "later: cricket")

    def test_excluded_phrase_needs_the_whole_phrase(self) -> None:
        assert hits('Modi -"test match"', "Modi passes the test", "match report")
        assert not hits('Modi -"test match"', "Modi at the test match")

    def test_excluded_group(self) -> None:
        q = "Modi -(cricket IPL)"
        assert hits(q, "Modi on cricket")
        assert not hits(q, "Modi on cricket and the IPL")

    def test_phrase_needs_consecutive_tokens(self) -> None:
        assert hits('"Vladimir Putin"', "President Vladimir Putin said")
        assert hits('"Vladimir Putin"', "Vladimir-Putin")
        assert not hits('"Vladimir Putin"', "Vladimir said Putin")
        assert not hits('"Vladimir Putin"', "Putin Vladimir")

    def test_phrase_does_not_span_title_and_text(self) -> None:
        assert not hits('"Vladimir Putin"', "Talks with Vladimir", "Putin said")

    def test_cyrillic_prefix_wildcard(self) -> None:
        assert hits("Путин*", "Встреча Путина и Моди")
        assert hits("Путин*", "Путину позвонили")
        assert hits("Путин*", "Путин")
        assert not hits("Путин*", "Распутин")

    def test_wildcard_folds_like_the_text(self) -> None:
        assert hits("ZELENSK*", "Zelenskýy said")

    def test_wildcard_as_last_word_of_a_split_term(self) -> None:
        assert hits("New-Del*", "New Delhi hosts")
        assert not hits("New-Del*", "New York hosts Delhi")

    def test_title_field(self) -> None:
        assert hits("title:Modi", "Modi visits Moscow")
        assert not hits("title:Modi", "Visit to Moscow", "Modi arrived")
        assert hits('title:"Modi visits"', "Modi visits Moscow")
        assert hits("title:Mosc*", "Modi visits Moscow")
        assert not hits("title:Mosc*", "Modi visits", "Moscow")

    def test_site_field_with_subdomains(self) -> None:
        assert hits("Modi site:bbc.co.uk", "Modi", site="bbc.co.uk")
        assert hits("Modi site:bbc.co.uk", "Modi", site="news.bbc.co.uk")
        assert hits("Modi site:bbc.co.uk", "Modi", site="www.BBC.co.uk")
        assert not hits("Modi site:bbc.co.uk", "Modi", site="notbbc.co.uk")
        assert not hits("Modi site:bbc.co.uk", "Modi", site="bbc.co.uk.evil.com")
        assert not hits("Modi site:bbc.co.uk", "Modi", site="")

    def test_site_exclusion(self) -> None:
        assert hits("Modi -site:espn.com", "Modi", site="bbc.com")
        assert not hits("Modi -site:espn.com", "Modi", site="cricket.espn.com")

    def test_lang_field(self) -> None:
        assert hits("Modi lang:ru", "Modi", language="ru")
        assert hits("Modi lang:ru", "Modi", language="ru-RU")
        assert hits("Modi lang:ru", "Modi", language="RU_ru")
        assert hits("Modi lang:pt-br", "Modi", language="pt-BR")
        assert not hits("Modi lang:ru", "Modi", language="en")
        assert not hits("Modi lang:ru", "Modi", language=None)
        assert not hits("Modi lang:pt-br", "Modi", language="pt")

    def test_lang_exclusion_keeps_items_without_language(self) -> None:
        assert hits("Modi -lang:hi", "Modi", language=None)
        assert not hits("Modi -lang:hi", "Modi", language="hi")

    def test_near_either_order(self) -> None:
        assert hits("Putin NEAR/3 Modi", "Putin met Modi")
        assert hits("Putin NEAR/3 Modi", "Modi met Putin")

    def test_near_distance_limit(self) -> None:
        title = "Putin a b c Modi"
        assert hits("Putin NEAR/4 Modi", title)
        assert not hits("Putin NEAR/3 Modi", title)
        assert hits("Modi NEAR/4 Putin", title)
        assert not hits("Modi NEAR/3 Putin", title)

    def test_near_one_means_adjacent(self) -> None:
        assert hits("Putin NEAR/1 Modi", "Modi Putin")
        assert not hits("Putin NEAR/1 Modi", "Modi and Putin")

    def test_near_counts_from_the_ends_of_phrases(self) -> None:
        assert hits('"Vladimir Putin" NEAR/2 "Narendra Modi"', "Vladimir Putin and Narendra Modi")
        assert hits('"Vladimir Putin" NEAR/2 "Narendra Modi"', "Narendra Modi and Vladimir Putin")
        assert not hits(
            '"Vladimir Putin" NEAR/1 "Narendra Modi"', "Narendra Modi and Vladimir Putin"
        )

    def test_near_needs_two_mentions(self) -> None:
        assert not hits('Putin NEAR/5 "Putin said"', "Putin said")
        assert hits("Putin NEAR/5 Putin", "Putin met Putin")
        assert not hits("Putin NEAR/5 Putin", "Putin met Modi")

    def test_near_picks_any_pair_of_mentions(self) -> None:
        text = " ".join(["Putin"] + ["x"] * 60 + ["Modi", "y", "Putin"])
        assert hits("Putin NEAR/2 Modi", text)

    def test_near_does_not_span_title_and_text(self) -> None:
        assert not hits("Putin NEAR/50 Modi", "Talks with Putin", "Modi said")

    def test_near_with_wildcard_and_title(self) -> None:
        assert hits("Путин* NEAR/2 Моди", "Путина встретил Моди")
        assert hits("title:(Путин* NEAR/2 Моди)", "Путина встретил Моди")
        assert not hits("title:(Путин* NEAR/2 Моди)", "Встреча", "Путина встретил Моди")

    def test_lowercase_or_is_a_word(self) -> None:
        assert not hits("war or peace", "war and peace")
        assert hits("war or peace", "war or peace")

    def test_unknown_field_is_matched_as_text(self) -> None:
        assert hits("foo:bar", "the foo bar")

    def test_chinese_words_match_inside_running_text(self) -> None:
        assert hits("普京 莫迪", "普京和莫迪举行会谈")
        assert not hits("普京", "莫迪举行会谈")

    def test_result_names_found_terms_as_written(self) -> None:
        q = parse_query('Putin "New Delhi" (summit OR visit OR talks) -cricket title:Modi')
        result = match(q, doc("Modi and Putin in New Delhi", "summit talks"))
        assert result == MatchResult(
            terms=("Putin", '"New Delhi"', "summit", "talks", "title:Modi")
        )

    def test_result_leaves_out_failed_branches(self) -> None:
        q = parse_query("(Putin Xi) OR Modi")
        assert match(q, doc("Putin and Modi")) == MatchResult(terms=("Modi",))

    def test_result_leaves_out_filters_and_exclusions(self) -> None:
        q = parse_query("Putin NEAR/2 Modi site:bbc.com -(cricket -Putin)")
        result = match(q, doc("Putin meets Modi", site="bbc.com"))
        assert result == MatchResult(terms=("Putin NEAR/2 Modi",))

    def test_prepared_doc_gives_the_same_answer(self) -> None:
        d = doc("Putin meets Modi", "in Moscow", site="bbc.com", language="en")
        prepared = prepare(d)
        assert isinstance(prepared, PreparedDoc)
        for text in ("Putin Modi", "title:Moscow", "Mosc*", "Putin NEAR/2 Modi site:bbc.com"):
            q = parse_query(text)
            assert match(q, prepared) == match(q, d)

    def test_prepared_doc_contents(self) -> None:
        prepared = prepare(doc("Putin’s visit", "Modi said", site="www.bbc.com", language="EN"))
        assert prepared.title_tokens == ("putin", "s", "visit")
        assert prepared.vocabulary == {"putin", "s", "visit", "modi", "said"}
        assert prepared.positions["putin"] == [0]
        assert prepared.positions["modi"][0] > 50
        assert prepared.site == "bbc.com"
        assert prepared.language == "en"
        assert prepared.words_with_prefix("vi") == ["visit"]

    def test_empty_doc_matches_nothing(self) -> None:
        assert not hits("Putin", "")
        assert not hits("Putin -Modi", "", "")


class TestAliases:
    def test_flagship_headlines_across_scripts(self, aliases: Aliases) -> None:
        q = "Putin Modi summit"
        assert hits(q, "Путин и Моди провели саммит в Москве", aliases=aliases)
        assert hits(q, "पुतिन और मोदी का शिखर सम्मेलन", aliases=aliases)
        assert hits(q, "Putin and Modi hold summit", aliases=aliases)
        assert hits(q, "Vladimir Putin, Narendra Modi: summits", aliases=aliases)
        assert not hits(q, "Путин и Моди провели встречу", aliases=aliases)

    def test_result_uses_the_words_the_user_typed(self, aliases: Aliases) -> None:
        q = parse_query("Putin Modi summit", aliases)
        result = match(q, doc("Путин и Моди провели саммит в Москве"))
        assert result == MatchResult(terms=("Putin", "Modi", "summit"))

    def test_grammatical_cases(self, aliases: Aliases) -> None:
        assert hits("Putin Moscow", "Визит Путина в Москву", aliases=aliases)
        assert hits("India Russia", "Индии и России", aliases=aliases)
        assert hits("Delhi", "Саммит в Нью-Дели", aliases=aliases)
        assert hits("Delhi", "नई दिल्ली में", aliases=aliases)

    def test_multiword_alias_is_a_phrase(self, aliases: Aliases) -> None:
        assert not hits("summit", "शिखर पर सम्मेलन", aliases=aliases)
        assert hits("summit", "शिखर सम्मेलन", aliases=aliases)

    def test_aliases_are_only_for_plain_words(self, aliases: Aliases) -> None:
        assert not hits('"Putin"', "Путин", aliases=aliases)
        assert not hits("Putin*", "Путин", aliases=aliases)

    def test_aliases_in_title_exclusions_and_near(self, aliases: Aliases) -> None:
        assert hits("title:Modi", "Моди прибыл", aliases=aliases)
        assert not hits("summit -Modi", "Саммит: Моди прибыл", aliases=aliases)
        assert hits("Putin NEAR/2 Modi", "Путин и Моди", aliases=aliases)

    def test_no_aliases_by_default(self) -> None:
        assert not hits("Putin", "Путин")

    def test_shipped_sets(self, aliases: Aliases) -> None:
        for term in ("Putin", "Modi", "India", "Russia", "summit", "Moscow", "Delhi"):
            assert len(aliases.variants((term.lower(),))) >= 4, term

    def test_aliases_from_code(self) -> None:
        table = Aliases([["Xi", "Xi Jinping", "Си Цзиньпин"]])
        assert len(table) == 1
        assert hits("Xi", "Си Цзиньпин прибыл", aliases=table)
        assert table.variants(("nobody",)) == (("nobody",),)

    def test_overlapping_sets_merge_for_shared_names(self) -> None:
        table = Aliases([["Delhi", "New Delhi"], ["New Delhi", "NCT"]])
        assert table.variants(("new", "delhi")) == (("new", "delhi"), ("delhi",), ("nct",))
        assert table.variants(("delhi",)) == (("delhi",), ("new", "delhi"))

    def test_empty_alias_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="no letters"):
            Aliases([["Putin", "…"]])

    def test_load_rejects_bad_tables(self, tmp_path: Path) -> None:
        path = tmp_path / "aliases.toml"
        path.write_text('[[alias]]\nnames = ["a"]\n', encoding="utf-8")
        with pytest.raises(ValueError, match=r"alias #1 needs a 'terms' list"):
            load_aliases(path)
        path.write_text('alias = "x"\n', encoding="utf-8")
        with pytest.raises(ValueError, match="array of tables"):
            load_aliases(path)
        path.write_text("", encoding="utf-8")
        assert len(load_aliases(path)) == 0


def test_query_object_fields() -> None:
    q = parse_query("Putin -Modi")
    assert isinstance(q, Query)
    assert q.text == "Putin -Modi"
    assert isinstance(q.ast, And)
    assert isinstance(q.ast.children[1], Not)
    assert parse_query("Modi OR Putin").ast == Or(
        (Term("Modi", (("modi",),)), Term("Putin", (("putin",),)))
    )
