"""Clean feed entries into Items: canonical URLs, plain text, tidy titles."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urlsplit, urlunsplit

import lxml.etree
import lxml.html
from w3lib.url import canonicalize_url

from bot.domain import FeedEntry, Item
from bot.language.detect import item_language, normalize_code
from bot.summarize.blocks import Block, blocks_from_text
from bot.summarize.summary import summarize, summarize_blocks

# Query parameters that only say how a reader arrived; exact names, matched case-insensitively.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "ysclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl",
        "_hsenc", "_hsmi", "ref_src", "ref_url", "ocid", "cmpid", "ito", "smid", "smtyp",
        "mkt_tok", "spm", "vero_id", "vero_conv", "wt.mc_id", "wt_mc_id", "s_cid", "s_kwcid",
        "ncid", "sr_share", "taid", "guccounter", "guce_referrer", "guce_referrer_sig",
        "soc_src", "soc_trk", "oly_enc_id", "oly_anon_id", "rb_clickid", "oc", "cmp",
        "__twitter_impression", "xtor", "at_medium", "at_campaign", "at_source", "at_link",
    }
)  # fmt: skip
# Parameter name prefixes used only for campaign tracking.
TRACKING_PREFIXES = ("utm_", "ns_", "pk_", "mtm_", "hsa_", "at_custom", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}

_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "iframe", "object", "embed",
     "svg", "math", "canvas", "select", "button", "form", "input", "textarea"}
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog",
     "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3",
     "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "menu", "nav", "ol", "p",
     "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_MAX_HTML_CHARS = 2_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff\u200b\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")
# Entities left after one decoding pass, i.e. double-escaped markup such as "&amp;nbsp;".
_LEFTOVER_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_TAG_FALLBACK = re.compile(r"<[^>]*>")


def canonical_url(url: str) -> str:
    """The URL without fragment, credentials, default port or tracking parameters.

    Scheme and host are lower-cased, the remaining query is sorted, the path keeps its
    case. Anything that is not an http(s) URL comes back only stripped.
    """
    raw = re.sub(r"[\t\r\n]", "", url or "").strip()
    try:
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            return raw
        port = parts.port
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{port}"
        query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
        cleaned = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
        return canonicalize_url(cleaned, keep_blank_values=True, keep_fragments=False)
    except (ValueError, UnicodeError):
        return raw


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.split("=", 1)[0]).strip().lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def html_to_text(html_text: str, *, limit: int = 20000) -> str:
    """Plain text from an HTML fragment: one line per block, no blank lines. Never raises."""
    if not html_text:
        return ""
    source = _CONTROL.sub("", html_text[:_MAX_HTML_CHARS])
    text = ""
    if "<" in source:
        try:
            text = _tree_text(source)
        except (lxml.etree.LxmlError, ValueError):
            text = ""
        if not text.strip():
            text = html.unescape(_TAG_FALLBACK.sub(" ", source))
    else:
        text = source
    text = _LEFTOVER_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    lines = (_SPACES.sub(" ", line).strip() for line in _CONTROL.sub("", text).split("\n"))
    return "\n".join(line for line in lines if line)[:limit].strip()


def _parse_fragment(source: str) -> lxml.html.HtmlElement:
    # huge_tree lifts libxml2's nesting limit, past which the text of deep markup is lost.
    # A parser per call: lxml parsers must not be shared between threads.
    parser = lxml.html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)
    root = lxml.html.fragment_fromstring(source, create_parent="div", parser=parser)
    for node in list(root.iter(lxml.etree.Comment, lxml.etree.ProcessingInstruction)):
        _drop(node)
    for node in [el for el in root.iter() if isinstance(el.tag, str) and el.tag in _SKIP_TAGS]:
        _drop(node)
    return root


def _tree_text(source: str) -> str:
    root = _parse_fragment(source)
    parts: list[str] = []
    for event, el in lxml.etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS or tag == "br":
                parts.append("\n")
            elif tag in _CELL_TAGS:
                parts.append(" ")
            if el.text:
                parts.append(el.text)
        else:
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            elif tag in _CELL_TAGS:
                parts.append(" ")
            if el.tail and el is not root:
                parts.append(el.tail)
    return "".join(parts).replace("\xa0", " ")


def html_to_blocks(html_text: str) -> list[Block]:
    """The blocks of an HTML fragment, each with the length of its link text. Never raises.

    Text without markup, and markup that does not parse, come back one block per line.
    """
    source = _CONTROL.sub("", (html_text or "")[:_MAX_HTML_CHARS])
    blocks: list[Block] = []
    if "<" in source:
        try:
            blocks = _tree_blocks(_parse_fragment(source))
        except (lxml.etree.LxmlError, ValueError):
            blocks = []
    return blocks or blocks_from_text(html_to_text(html_text))


class _BlockBuilder:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.link_chars = 0
        self.heading = False

    def add(self, text: str | None, *, in_link: bool) -> None:
        if text:
            self.parts.append(text)
            if in_link:
                self.link_chars += len(" ".join(text.split()))

    def close(self) -> None:
        text = " ".join(_LEFTOVER_ENTITY.sub(_unescape, "".join(self.parts)).split())
        if text:
            self.blocks.append(Block(text, min(self.link_chars, len(text)), self.heading))
        self.parts, self.link_chars, self.heading = [], 0, False


def _unescape(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


def _tree_blocks(root: lxml.html.HtmlElement) -> list[Block]:
    builder = _BlockBuilder()
    links = 0  # depth of <a> elements around the current text
    for event, el in lxml.etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS or tag == "br":
                builder.close()
            builder.heading = builder.heading or tag in _HEADING_TAGS
            links += tag == "a"
            builder.add(el.text, in_link=links > 0)
        else:
            links -= tag == "a"
            if tag in _BLOCK_TAGS:
                builder.close()
            elif tag in _CELL_TAGS:
                builder.add(" ", in_link=False)
            if el is not root:
                builder.add(el.tail, in_link=links > 0)
    builder.close()
    return builder.blocks


def _drop(node: lxml.etree._Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    tail = node.tail
    previous = node.getprevious()
    parent.remove(node)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def clean_title(title: str) -> str:
    """A title as one line of plain text."""
    return _SPACES.sub(" ", html_to_text(title, limit=2000).replace("\n", " ")).strip()


def normalize_entry(
    entry: FeedEntry, *, source_url: str, source_name: str, brief: bool = False
) -> Item:
    """Build an Item with plain text, a canonical URL and a short summary. A `brief` item, one
    recorded only to be known (a source's first poll), has no summary and only its declared
    language: those are work for items that alert."""
    title = clean_title(entry.title)
    # A brief item's text would serve only as a missing title.
    text = "" if brief and title else html_to_text(entry.content_html)
    if not title and text:
        # Some feeds (RSS 0.92, social feeds) have items without titles.
        title = summarize(text, limit=120)
    if brief:
        summary, language = "", normalize_code(entry.language)
    else:
        summary = summarize_blocks(html_to_blocks(entry.content_html), title=title)
        language = item_language(entry.language, title, text)
    return Item(
        source_url=source_url,
        source_name=source_name,
        title=title,
        url=canonical_url(entry.link) if entry.link else "",
        guid=entry.guid,
        published=entry.published,
        text=text,
        summary=summary,
        language=language,
        utc_offset=entry.utc_offset,
    )
