"""Repairs to a feed's raw bytes before an XML parser reads them: UTF-8 encoded twice,
surrogate character references, and a charset the feed does not declare."""

from __future__ import annotations

import codecs
import itertools
import re

import charset_normalizer

# --- double-encoded UTF-8 ("Ð¯Ð½Ð´ÐµÐºÑ") -------------------------------------------------


def _cp1252_fallback(exc: UnicodeError) -> tuple[bytes, int]:
    # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined; mojibake keeps them as C1 controls.
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    if all(ord(ch) < 256 for ch in chunk):
        return chunk.encode("latin-1"), exc.end
    raise exc


codecs.register_error("summit_cp1252_fallback", _cp1252_fallback)

_CONTINUATION = "".join(
    sorted({bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0)})
)
_MOJIBAKE = re.compile(f"[\u00c2-\u00df][{re.escape(_CONTINUATION)}]")
_MOJIBAKE_MIN_HITS = 8


def repair_double_utf8(body: bytes) -> bytes:
    """Undo UTF-8 text that was decoded as cp1252 and encoded to UTF-8 again."""
    # A byte order mark has no cp1252 form; left in, it would make the round trip fail.
    bom = b"\xef\xbb\xbf" if body.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = body[len(bom) :].decode("utf-8")
    except UnicodeDecodeError:
        return body
    hits = sum(1 for _ in itertools.islice(_MOJIBAKE.finditer(text), _MOJIBAKE_MIN_HITS))
    if hits < _MOJIBAKE_MIN_HITS:
        return body
    try:
        # A strict round trip is only possible when every non-ASCII character is mojibake.
        repaired = text.encode("cp1252", errors="summit_cp1252_fallback").decode("utf-8")
    except UnicodeError:
        return body
    return bom + repaired.encode()


# --- surrogate character references ("&#55357;&#56832;") ------------------------------------

# Some feed writers escape characters outside the BMP as UTF-16 surrogate pairs. An XML parser
# refuses them and feedparser's fallback parser raises on them, losing the whole feed. Over the
# bytes: a surrogate can only appear as a reference in an ASCII-compatible encoding.
_SURROGATE_REF = re.compile(rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7][0-9]{3}));")
_SURROGATE_PAIR = re.compile(_SURROGATE_REF.pattern + _SURROGATE_REF.pattern)


def _ref_value(hex_digits: bytes | None, decimal: bytes | None) -> int:
    return int(hex_digits, 16) if hex_digits is not None else int(decimal or b"0")


def _join_pair(match: re.Match[bytes]) -> bytes:
    high, low = _ref_value(*match.group(1, 2)), _ref_value(*match.group(3, 4))
    if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
        return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return match.group(0)


def _replace_lone(match: re.Match[bytes]) -> bytes:
    value = _ref_value(*match.group(1, 2))
    return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF else match.group(0)


def fix_surrogate_refs(body: bytes) -> bytes:
    """Surrogate-pair references become one reference; lone surrogates become U+FFFD."""
    if _SURROGATE_REF.search(body) is None:
        return body
    return _SURROGATE_REF.sub(_replace_lone, _SURROGATE_PAIR.sub(_join_pair, body))


# --- undeclared charsets --------------------------------------------------------------------

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']""", re.IGNORECASE)
# Single-byte and CJK encodings whose text feedparser would otherwise read as windows-1252.
_SNIFFABLE = frozenset(
    {
        "cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866", "cp1253", "iso8859_7",
        "gb18030", "gb2312", "big5", "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949",
    }
)  # fmt: skip


def undeclared_charset(body: bytes, content_type: str) -> str | None:
    """Guess the charset of a body that declares none and is not UTF-8."""
    if "charset=" in content_type.lower() or body[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return None
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or _DECLARED_ENCODING.match(body[:512]):
        return None
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:65536]).best()
    return best.encoding if best is not None and best.encoding in _SNIFFABLE else None
