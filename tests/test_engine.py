from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match import (
    Aliases,
    MatchDoc,
    MatchResult,
    Query,
    QueryError,
    TopicIndex,
    match,
    parse_query,
    prepare,
)
from bot.match.query import And, Not, Site, Term

ALIASES = Aliases(
    [
        ["Putin", "Путин", "Путина", "Vladimir Putin"],
        ["Modi", "Моди", "मोदी", "Narendra Modi"],
        ["Delhi", "New Delhi"],
    ]
)


def anchors(text: str, aliases: Aliases | None = None) -> set[str]:
    return set(parse_query(text, aliases).required_terms)


class TestRequiredTerms:
    def test_single_word(self) -> None:
        assert anchors("Putin") == {"putin"}

    def test_and_picks_one_required_word_the_longest(self) -> None:
        assert anchors("Xi Putin Modi") == {"putin"}

    def test_and_prefers_words_over_wildcards(self) -> None:
        assert anchors("Zelensk* Xi") == {"xi"}

    def test_or_unions_its_branches(self) -> None:
        assert anchors("summit OR visit") == {"summit", "visit"}
        assert anchors("(Putin Xi) OR Modi") == {"putin", "modi"}

    def test_phrase_anchors_on_its_longest_word(self) -> None:
        assert anchors('"the summit"') == {"summit"}

    def test_wildcard_anchors_on_its_prefix(self) -> None:
        assert anchors("Путин*") == {"путин*"}
        assert anchors("New-Del*") == {"new"}

    def test_near_anchors_on_one_side(self) -> None:
        assert anchors("Путин* NEAR/3 Modi") == {"modi"}

    def test_aliases_anchor_on_every_alias(self) -> None:
        assert anchors("Modi", ALIASES) == {"modi", "моди", "मोदी"}
        assert anchors("Delhi", ALIASES) == {"delhi"}

    def test_exclusions_and_filters_never_anchor(self) -> None:
        assert anchors("Modi -Putinissimo site:bbc.com lang:en") == {"modi"}

    def test_title_words_anchor_like_any_word(self) -> None:
        assert anchors("title:Modi") == {"modi"}

    def test_unanchored_tree_has_no_required_terms(self) -> None:
        query = Query("hand-built", And((Site("bbc.com"), Not(Term("x", (("x",),))))))
        assert query.required_terms == frozenset()


def test_index_matches_through_anchors() -> None:
    index = TopicIndex()
    index.add(1, parse_query("Putin Modi summit", ALIASES))
    index.add(2, parse_query("Путин* NEAR/3 Моди"))
    index.add(3, parse_query("Modi -cricket", ALIASES))
    index.add(4, parse_query("Xi"))
    assert len(index) == 4
    assert 2 in index
    assert index.match(MatchDoc("Путина встретил Моди", "")) == {
        2: MatchResult(terms=("Путин* NEAR/3 Моди",)),
        3: MatchResult(terms=("Modi",)),
    }
    assert index.match(prepare(MatchDoc("Putin and Modi at the summit", "cricket"))) == {
        1: MatchResult(terms=("Putin", "Modi", "summit")),
    }


def test_candidates_come_only_from_the_items_words() -> None:
    index = TopicIndex()
    for topic_id in range(1000):
        index.add(topic_id, parse_query(f"word{topic_id} Пут*"))
    index.add(5000, parse_query("Путин* Xi"))
    assert index.candidates(prepare(MatchDoc("nothing relevant here", ""))) == set()
    assert index.candidates(prepare(MatchDoc("word7 and word9", ""))) == {7, 9}
    assert index.candidates(prepare(MatchDoc("Xi", "Путину"))) == {5000}
    assert index.match(MatchDoc("Xi", "Путину")) == {5000: MatchResult(terms=("Путин*", "Xi"))}


def test_prefix_anchor_needs_the_whole_prefix() -> None:
    index = TopicIndex()
    index.add(1, parse_query("Путин*"))
    assert index.candidates(prepare(MatchDoc("Пу", "Пути"))) == set()
    assert index.candidates(prepare(MatchDoc("Путинизм", ""))) == {1}


def test_add_replaces_and_remove_forgets() -> None:
    index = TopicIndex()
    index.add(1, parse_query("Putin"))
    index.add(1, parse_query("Modi*"))
    assert index.get(1) == parse_query("Modi*")
    assert index.match(MatchDoc("Putin", "")) == {}
    assert index.match(MatchDoc("Modis", "")) == {1: MatchResult(terms=("Modi*",))}
    index.remove(1)
    index.remove(1)
    index.remove(42)
    assert len(index) == 0
    assert 1 not in index
    assert index.match(MatchDoc("Modis Putin", "")) == {}


def test_shared_anchors_survive_removing_one_topic() -> None:
    index = TopicIndex()
    index.add(1, parse_query("Modi"))
    index.add(2, parse_query("Modi summit"))
    index.add(3, parse_query("Mod*"))
    index.add(4, parse_query("Mod* visit"))
    index.remove(1)
    index.remove(3)
    assert set(index.match(MatchDoc("Modi summit visit", ""))) == {2, 4}


def test_unanchored_queries_are_always_checked() -> None:
    index = TopicIndex()
    index.add(7, Query("hand-built", And((Site("bbc.com"), Not(Term("x", (("x",),)))))))
    assert index.match(MatchDoc("anything", "", site="news.bbc.com")) == {7: MatchResult(terms=())}
    assert index.match(MatchDoc("x", "", site="bbc.com")) == {}
    index.remove(7)
    assert index.candidates(prepare(MatchDoc("anything", "", site="bbc.com"))) == set()


# --- the index agrees with matching every query one by one ----------------------------------------

WORDS = [
    "Putin",
    "Путин",
    "путина",
    "Vladimir",
    "Modi",
    "моди",
    "मोदी",
    "Narendra",
    "summit",
    "visit",
    "cricket",
    "New",
    "Delhi",
    "Zelenskýy",
    "zelenskyy",
]
FILLER = ["and", "the", "x"]
WILDCARDS = ["put*", "Пут*", "mo*", "summ*", "zel*", "de*", "new-de*", "vi*"]
FILTERS = ["site:bbc.com", "lang:ru", "-site:bbc.com", "-lang:en"]

word = st.sampled_from(WORDS)
atoms = st.one_of(
    word,
    st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(WILDCARDS),
    word.map(lambda w: "title:" + w),
    st.tuples(word, st.integers(1, 4), st.one_of(word, st.sampled_from(WILDCARDS))).map(
        lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}"
    ),
)


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(" ".join),
        st.lists(children, min_size=2, max_size=3).map(" OR ".join),
        children.map(lambda c: f"({c})"),
        st.tuples(children, children).map(lambda t: f"{t[0]} -({t[1]})"),
        st.tuples(children, word).map(lambda t: f"{t[0]} NOT {t[1]}"),
        st.tuples(children, st.sampled_from(FILTERS)).map(" ".join),
    )


query_texts = st.recursive(atoms, _compound, max_leaves=8)
texts = st.lists(st.sampled_from(WORDS + FILLER), max_size=12).map(" ".join)
docs = st.builds(
    MatchDoc,
    title=texts,
    text=texts,
    site=st.sampled_from(["", "bbc.com", "news.bbc.com", "cnn.com"]),
    language=st.sampled_from([None, "ru", "en", "ru-RU"]),
)


def _parse_all(texts: list[str]) -> list[Query]:
    queries = []
    for text in texts:
        try:
            queries.append(parse_query(text, ALIASES))
        except QueryError:
            continue
    return queries


@settings(max_examples=300, deadline=None)
@given(st.lists(query_texts, min_size=1, max_size=12), st.lists(docs, min_size=1, max_size=4))
def test_index_agrees_with_matching_each_query(
    query_list: list[str], doc_list: list[MatchDoc]
) -> None:
    queries = _parse_all(query_list)
    index = TopicIndex()
    for topic_id, query in enumerate(queries):
        index.add(topic_id, query)
    for doc in doc_list:
        expected = {
            topic_id: result
            for topic_id, query in enumerate(queries)
            if (result := match(query, doc)) is not None
        }
        assert index.match(doc) == expected


@settings(max_examples=300, deadline=None)
@given(query_texts, docs)
def test_every_match_contains_a_required_term(text: str, doc: MatchDoc) -> None:
    try:
        query = parse_query(text, ALIASES)
    except QueryError:
        return
    prepared = prepare(doc)
    if match(query, prepared) is None:
        return
    required = query.required_terms
    assert required
    assert any(
        token in required or any(a.endswith("*") and token.startswith(a[:-1]) for a in required)
        for token in prepared.vocabulary
    )


@settings(deadline=None)
@given(st.lists(query_texts, min_size=2, max_size=8), st.data())
def test_index_agrees_after_removals(query_list: list[str], data: st.DataObject) -> None:
    queries = _parse_all(query_list)
    index = TopicIndex()
    for topic_id, query in enumerate(queries):
        index.add(topic_id, query)
    removed = data.draw(st.sets(st.integers(0, max(len(queries) - 1, 0))))
    for topic_id in removed:
        index.remove(topic_id)
    doc = data.draw(docs)
    expected = {
        topic_id: result
        for topic_id, query in enumerate(queries)
        if topic_id not in removed and (result := match(query, doc)) is not None
    }
    assert index.match(doc) == expected
