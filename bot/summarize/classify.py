"""Which blocks of a feed description are article text: jusText's classifier, read for excerpts.

jusText (Pomikálek 2011) labels each block by length, link density and the share of
stopwords in the text's language, then settles short and borderline blocks by their
neighbours. Its context step is reused here unchanged; its thresholds are set for feed
descriptions, which are a few sentences rather than a page, and three readings differ:

- A short block that reads as a sentence (final punctuation) is borderline, not short: a
  one-line teaser is the lead, while menu labels, counters and bylines have no full stop.
- The end of a description is where the excerpt was cut from the article, so the block after
  the last one counts as article text. The start stays page chrome, as in jusText.
- When no block stands out, what reads as text is the lead: a description introduces an
  article, so it is not all chrome unless every block says so.

The language is the jusText stoplist that covers most of the description's words.

Knowledge rules on top: the repeated title, blocks without letters (counters, bare dates,
dot rules), bylines and reader prompts (share, follow, subscribe, cookie notices) are never
article text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from itertools import chain
from types import SimpleNamespace

import justext
from justext.core import revise_paragraph_classification
from justext.paragraph import Paragraph

from bot.summarize.blocks import Block
from bot.summarize.rules import is_byline, is_prompt, loose_key
from bot.summarize.sentences import split_sentences

LENGTH_LOW = 70  # shorter blocks are settled by their neighbours (jusText's default)
LENGTH_HIGH = 70  # jusText asks 200 of a page paragraph; a description sentence is shorter
# jusText asks 0.30 / 0.32 of a page; leads are dense with names, and chrome in a description
# is told apart by links, length and neighbours more than by its function words.
STOPWORDS_LOW = 0.10
STOPWORDS_HIGH = 0.15
MAX_LINK_DENSITY = 0.5  # jusText has 0.2 for pages; a lead may link a phrase or three inline
_WORDS_FOR_LANGUAGE = 200
_CHARS_CLASSIFIED = 4000
_WORDS_OF_A_DEK = 4
_SENTENCE_END = re.compile(r"[.!?…।॥][\"'”’»)\]]*$")


@cache
def _stoplists() -> tuple[tuple[frozenset[str], ...], dict[str, tuple[int, ...]]]:
    """jusText's stoplists, and for each stopword the lists that hold it."""
    lists = tuple(
        frozenset(word.lower() for word in justext.get_stoplist(name))
        for name in sorted(justext.get_stoplists())
    )
    holders: dict[str, list[int]] = {}
    for number, stoplist in enumerate(lists):
        for word in stoplist:
            holders.setdefault(word, []).append(number)
    return lists, {word: tuple(numbers) for word, numbers in holders.items()}


def stoplist_for(texts: Sequence[str]) -> frozenset[str]:
    """The jusText stoplist that covers most words of the text: its language's list."""
    lists, holders = _stoplists()
    words = [w.lower() for text in texts for w in text.split()][:_WORDS_FOR_LANGUAGE]
    hits = Counter(chain.from_iterable(holders.get(word, ()) for word in words))
    return lists[hits.most_common(1)[0][0]] if hits else lists[0]


class _Paragraph(Paragraph):
    """jusText's paragraph over a block whose text is already whitespace-normalised."""

    def __init__(self, block: Block) -> None:
        super().__init__(SimpleNamespace(dom="h2" if block.heading else "p", xpath="/p"))
        self.block_text = block.text
        self.text_nodes = [block.text]
        self.chars_count_in_links = min(block.link_chars, len(block.text))

    @property
    def text(self) -> str:
        return self.block_text


def _head(blocks: Sequence[Block]) -> Sequence[Block]:
    """The blocks a lead can come from, with their neighbours; full-text feeds carry more."""
    size = 0
    for count, block in enumerate(blocks, 1):
        size += len(block.text)
        if size > _CHARS_CLASSIFIED:
            return blocks[:count]
    return blocks


def _repeats_title(text: str, title_key: str) -> bool:
    """The title again, also when the feed's title carries a "| Site" suffix."""
    if not title_key or len(text) > 2 * len(title_key) + 20:
        return False
    key = loose_key(text)
    return key == title_key or (len(key) >= 20 and title_key.startswith(f"{key} "))


def _is_prompt_block(text: str) -> bool:
    """A block that opens with a reader prompt; a prompt after news is dropped as a sentence."""
    return is_prompt(text) and is_prompt(split_sentences(text, len(text))[0])


def _never_text(text: str, title_key: str) -> bool:
    return (
        "©" in text
        or not any(c.isalpha() for c in text)
        or _repeats_title(text, title_key)
        or is_byline(text)
        or _is_prompt_block(text)
    )


def _context_free(paragraph: Paragraph, stoplist: frozenset[str]) -> str:
    """jusText's context-free class: bad, short, neargood or good."""
    text = paragraph.text
    density = paragraph.stopwords_density(stoplist)
    if len(text) < LENGTH_LOW:
        if paragraph.chars_count_in_links:
            return "bad"
        return "neargood" if _SENTENCE_END.search(text) else "short"
    if density >= STOPWORDS_HIGH:
        return "good" if len(text) > LENGTH_HIGH else "neargood"
    return "neargood" if density >= STOPWORDS_LOW else "bad"


def article_blocks(blocks: Sequence[Block], *, title: str = "") -> list[Block]:
    """The blocks the classifier calls article text, in order."""
    blocks = _head(blocks)
    if not blocks:
        return []
    stoplist = stoplist_for([block.text for block in blocks])
    title_key = loose_key(title)
    paragraphs = [_Paragraph(block) for block in blocks]
    for paragraph in paragraphs:
        paragraph.heading = paragraph.is_heading
        paragraph.excluded = paragraph.links_density() > MAX_LINK_DENSITY or _never_text(
            paragraph.text, title_key
        )
        paragraph.cf_class = "bad" if paragraph.excluded else _context_free(paragraph, stoplist)
    cut = _Paragraph(Block("…"))
    cut.heading, cut.cf_class = False, "good"
    revise_paragraph_classification([*paragraphs, cut])
    good = [block for block, p in zip(blocks, paragraphs, strict=True) if p.class_type == "good"]
    if good:
        return good
    # Nothing stood out, yet a description introduces an article: take what reads as text.
    return [
        block
        for block, p in zip(blocks, paragraphs, strict=True)
        if not p.excluded and (p.cf_class == "neargood" or _reads_as_text(p, stoplist))
    ]


def _reads_as_text(paragraph: Paragraph, stoplist: frozenset[str]) -> bool:
    """A sentence, or a dek without a full stop: unlike a label, it has function words."""
    if _SENTENCE_END.search(paragraph.text):
        return True
    dense = paragraph.stopwords_density(stoplist) >= STOPWORDS_HIGH
    return paragraph.words_count >= _WORDS_OF_A_DEK and dense
