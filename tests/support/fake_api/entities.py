"""Telegram's HTML parse mode: visible text and entities, with Telegram's error texts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's wording."""


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_END = ""  # what _at() returns past the end, like TDLib's terminating NUL


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _is_space(ch: str) -> bool:
    return ch in (_END, " ", "\t", "\r", "\n", "\v")


def _is_name_char(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in (".", "-")


def _decode_entity(text: str, pos: int) -> tuple[str, int, bool] | None:
    """Decode the HTML entity at `pos` (which holds "&") as TDLib does.

    Returns (character, position after it, had terminating ";") or None when it is not one.
    """
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        hexadecimal = end < n and text[end] == "x"
        if hexadecimal:
            end += 1
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < n and text[end] in digits:
            value = value * (16 if hexadecimal else 10) + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None
        if value == 0 or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        return char, end + 1, True
    return char, end, False


def normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    if url.startswith("tg://") or url.startswith("ton://"):
        return url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if not parts.path:
        url = parts._replace(path="/").geturl()
    return url


def parse_html(markup: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (visible text, entities) or raise `EntityParseError`.

    Follows TDLib's `parse_html` (tags, attributes, error wording, byte offsets in UTF-8 and
    entity offsets in UTF-16). With `strict_entities` (the default) an "&" that does not begin
    a complete entity (&lt; &gt; &amp; &quot; &#N; &#xN;) is an error, where Telegram would
    keep it as a literal "&": Summit Watch always escapes, so an unescaped "&" is a bug.
    """
    n = len(markup)

    def at(k: int) -> str:
        return markup[k] if k < n else _END

    def byte_offset(k: int) -> int:
        return len(markup[:k].encode("utf-8", "surrogatepass"))

    result: list[str] = []
    entities: list[dict[str, Any]] = []
    # open tags: name, argument, utf16 offset, flags
    stack: list[tuple[str, str, int, dict[str, Any]]] = []
    u16 = 0
    i = 0
    while i < n:
        ch = markup[i]
        if ch == "&":
            decoded = _decode_entity(markup, i)
            if decoded is not None and (decoded[2] or not strict_entities):
                char, i, _ = decoded
                result.append(char)
                u16 += utf16_len(char)
                continue
            if strict_entities:
                raise EntityParseError(f'Unescaped "&" at byte offset {byte_offset(i)}')
        if ch != "<":
            result.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if at(i) == _END:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = markup[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            flags: dict[str, Any] = {}
            while at(i) != ">":
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while not _is_space(at(i)) and at(i) not in ("=", ">"):
                    i += 1
                attribute = markup[name_begin:i].lower()
                if not attribute:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and attribute == "expandable":
                        flags["expandable"] = True
                    continue
                i += 1
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == _END:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if at(i) not in ("'", '"'):
                    token_begin = i
                    while at(i) != _END and (_is_name_char(at(i))):
                        i += 1
                    value = markup[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        offset = byte_offset(token_begin)
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {offset}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while at(i) != quote and at(i) != _END:
                        if at(i) == "&":
                            decoded = _decode_entity(markup, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == _END:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
                elif tag == "tg-time" and attribute in ("unix", "format"):
                    flags[attribute] = value
                elif tag == "blockquote" and attribute == "expandable":
                    flags["expandable"] = True
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            if tag == "tg-emoji" and not (argument.isdigit() and int(argument) > 0):
                raise EntityParseError("Invalid custom emoji identifier specified")
            if tag == "tg-time" and not str(flags.get("unix", "")).isdigit():
                raise EntityParseError("Invalid Unix time specified")
            stack.append((tag, argument, u16, {**flags, "text_start": len(result)}))
            i += 1  # past ">"
            continue

        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_name = markup[begin + 2 : i].lower()
        while at(i) != _END and _is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        tag, argument, start, flags = stack.pop()
        if end_name and end_name != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        length = u16 - start
        if length <= 0:
            continue
        entity: dict[str, Any] | None = None
        if tag in _SIMPLE_ENTITY:
            entity = {"type": _SIMPLE_ENTITY[tag]}
        elif tag == "a":
            url = argument or "".join(result[flags["text_start"] :])
            user_link = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user_link:
                entity = {
                    "type": "text_mention",
                    "user": {"id": int(user_link[1]), "is_bot": False, "first_name": "User"},
                }
            else:
                normalized = normalize_url(url)
                entity = {"type": "text_link", "url": normalized} if normalized else None
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": argument}
        elif tag == "tg-time":
            entity = {"type": "date_time", "unix_time": int(flags["unix"])}
            if flags.get("format"):
                entity["date_time_format"] = flags["format"]
        elif tag == "blockquote":
            entity = {"type": "expandable_blockquote" if flags.get("expandable") else "blockquote"}
        elif tag == "pre":
            entity = {"type": "pre"}
            if flags.get("language"):
                entity["language"] = flags["language"]
        elif tag == "code":
            parent = stack[-1] if stack else None
            if argument and parent is not None and parent[0] == "pre" and parent[2] == start:
                parent[3]["language"] = argument  # <pre><code class="language-x">
            else:
                entity = {"type": "code"}
        if entity is not None:
            entities.append({**entity, "offset": start, "length": length})

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    text = "".join(result)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities
