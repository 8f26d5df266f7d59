"""A chat's topics, own sources and settings as an export file, and an import file read back
strictly: known keys and types, every query parsed, nothing stored until all of it is read."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from bot.domain import UserError
from bot.match import Aliases, QueryError, parse_query
from bot.render import i18n
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.render.problems import problem
from bot.sources.netguard import MAX_URL_LENGTH, BlockedAddress, validate_url, with_scheme
from bot.storage.models import Chat, Source, Topic, utcnow
from bot.subscribers.topics import MAX_QUERY_LENGTH, MODES

IMPORT_MAX_BYTES = 256 * 1024
EXPORT_FORMAT = "summit-watch-export"
EXPORT_VERSION = 1
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


def own_sources(sources: Sequence[Source]) -> list[Source]:
    """The sources a chat added itself (not global ones, not its topics' news searches)."""
    return [s for s in sources if not s.is_global and s.kind != "search" and not s.retired]


def export_document(
    chat: Chat | None, topics: Sequence[Topic], sources: Sequence[Source]
) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if chat is not None:
        settings = {
            "language": i18n.normalize(chat.language),
            "language_chosen": chat.language_chosen,
            "timezone": chat.timezone,
            "quiet_start": chat.quiet_start,
            "quiet_end": chat.quiet_end,
            "quiet_mode": chat.quiet_mode,
            "digest_time": chat.digest_time,
        }
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": utcnow().isoformat(timespec="seconds"),
        "settings": settings,
        "topics": [
            {"query": topic.query, "mode": topic.mode, "active": topic.active} for topic in topics
        ],
        "sources": [
            {"url": source.url, "name": source.name, "kind": source.kind} for source in sources
        ],
    }


def export_opml(sources: Sequence[Source]) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head><title>Summit Watch sources</title></head>",
        "  <body>",
    ]
    for source in sources:
        name = quoteattr(source.name or source.url)
        lines.append(
            f'    <outline type="rss" text={name} title={name} xmlUrl={quoteattr(source.url)}/>'
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


class ImportProblem(Exception):
    """Why a file can't be imported: a catalog key under import.errors and its values."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        """Values are escaped already, or are UserErrors (a query's, a URL's) to translate."""
        values = {
            name: problem(lang, value) if isinstance(value, UserError) else value
            for name, value in self.values.items()
        }
        key = self.key if "." in self.key else f"import.errors.{self.key}"
        return t(lang, key, **values)


@dataclass
class ImportPlan:
    topics: list[tuple[str, str, bool]] = field(default_factory=list)  # query, mode, active
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # url, name, kind
    origins: list[str] = field(default_factory=list)  # where each source is in the file
    settings: dict[str, Any] = field(default_factory=dict)


def read_import(data: bytes, *, aliases: Aliases | None, allow_private: bool) -> ImportPlan:
    """Validate an export file (JSON) or an OPML list completely; ImportProblem if not."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblem("not_utf8") from None
    head = text.lstrip()[:1]
    if head == "{":
        return read_json(text, aliases=aliases, allow_private=allow_private)
    if head == "<":
        return read_opml(data, allow_private=allow_private)
    raise ImportProblem("unknown_format")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ImportProblem("duplicate_key", path=escape(shorten(key, 40)))
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _object(value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportProblem("not_object", path=path or "file")
    for key in value:
        if key not in allowed:
            name = escape(shorten(key, 40))
            raise ImportProblem("unknown_key", path=f"{path}.{name}" if path else name)
    return value


def _string(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ImportProblem("not_string", path=path)
    if len(value) > limit:
        raise ImportProblem("too_long", path=path, limit=limit)
    return value


def _choice(value: Any, path: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ImportProblem("one_of", path=path, choices=", ".join(choices))
    return value


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ImportProblem("not_bool", path=path)
    return value


def _url(value: Any, path: str, allow_private: bool) -> str:
    url = _string(value, path, MAX_URL_LENGTH)
    try:
        return validate_url(with_scheme(url), allow_private=allow_private)
    except (BlockedAddress, ValueError) as exc:
        raise ImportProblem("url", path=path, message=exc) from None


def _timezone(value: Any, path: str) -> str:
    name = _string(value, path, 64)
    if name == "UTC" or _OFFSET.fullmatch(name):
        return name
    if not _ZONE_NAME.fullmatch(name):
        raise ImportProblem("timezone", path=path)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportProblem("timezone", path=path) from None
    return name


def _clock(value: Any, path: str) -> str:
    clock = _string(value, path, 5)
    if not _CLOCK.fullmatch(clock):
        raise ImportProblem("clock", path=path)
    return clock


_TOP_KEYS = {"format", "version", "exported_at", "settings", "topics", "sources"}
_SETTING_KEYS = {
    "language",
    "language_chosen",
    "timezone",
    "quiet_start",
    "quiet_end",
    "quiet_mode",
    "digest_time",
}


def read_json(text: str, *, aliases: Aliases | None, allow_private: bool) -> ImportPlan:
    top = _header(_parsed(text))
    plan = ImportPlan()
    plan.settings = _settings(top.get("settings", {}))
    _read_topics(plan, top.get("topics", []), aliases)
    _read_sources(plan, top.get("sources", []), allow_private)
    return plan


def _parsed(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:
        raise ImportProblem("too_deep") from None
    except json.JSONDecodeError as exc:
        where = UserError("import_check.position", line=exc.lineno, column=exc.colno)
        raise ImportProblem("bad_json", detail=where) from None
    except ValueError:
        raise ImportProblem("bad_json", detail=UserError("import_check.constant")) from None


def _header(document: Any) -> dict[str, Any]:
    """The top object, once its format and version are ours."""
    top = _object(document, "", _TOP_KEYS)
    for key in ("format", "version"):
        if key not in top:
            raise ImportProblem("missing", path=key)
    if top["format"] != EXPORT_FORMAT:
        raise ImportProblem("wrong_format", path="format")
    version = top["version"]
    if isinstance(version, str):
        raise ImportProblem("import_check.version_type", path="version")
    if isinstance(version, bool) or version != EXPORT_VERSION:
        shown = escape(json.dumps(version)[:20])
        raise ImportProblem("import_check.version", path="version", version=shown)
    if "exported_at" in top:
        _string(top["exported_at"], "exported_at", 64)
    return top


def _settings(raw: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in _object(raw, "settings", _SETTING_KEYS).items():
        path = f"settings.{key}"
        if key == "language":
            settings[key] = _choice(value, path, i18n.LANGUAGES)
        elif key == "language_chosen":
            settings[key] = _flag(value, path)
        elif key == "timezone":
            settings[key] = _timezone(value, path)
        elif key in ("quiet_start", "quiet_end"):
            settings[key] = None if value is None else _clock(value, path)
        elif key == "quiet_mode":
            settings[key] = _choice(value, path, ("silent", "hold"))
        else:
            settings[key] = _clock(value, path)
    quiet = [settings.get(key, "absent") for key in ("quiet_start", "quiet_end")]
    if (quiet[0] is None) != (quiet[1] is None) or ("absent" in quiet and quiet[0] != quiet[1]):
        raise ImportProblem("quiet_pair")
    return settings


def _read_topics(plan: ImportPlan, topics: Any, aliases: Aliases | None) -> None:
    if not isinstance(topics, list):
        raise ImportProblem("not_list", path="topics")
    seen: set[str] = set()
    for index, entry in enumerate(topics):
        path = f"topics[{index}]"
        entry = _object(entry, path, {"query", "mode", "active"})
        if "query" not in entry:
            raise ImportProblem("missing", path=f"{path}.query")
        raw = _string(entry["query"], f"{path}.query", MAX_QUERY_LENGTH)
        try:
            query = parse_query(raw, aliases).text
        except QueryError as exc:
            raise ImportProblem("query", path=f"{path}.query", message=exc) from None
        mode = _choice(entry.get("mode", "instant"), f"{path}.mode", MODES)
        active = _flag(entry.get("active", True), f"{path}.active")
        if query.casefold() not in seen:
            seen.add(query.casefold())
            plan.topics.append((query, mode, active))


def _read_sources(plan: ImportPlan, sources: Any, allow_private: bool) -> None:
    if not isinstance(sources, list):
        raise ImportProblem("not_list", path="sources")
    urls: set[str] = set()
    for index, entry in enumerate(sources):
        path = f"sources[{index}]"
        entry = _object(entry, path, {"url", "name", "kind"})
        if "url" not in entry:
            raise ImportProblem("missing", path=f"{path}.url")
        url = _url(entry["url"], f"{path}.url", allow_private)
        name = _string(entry.get("name", ""), f"{path}.name", 200)
        kind = _choice(entry.get("kind", "feed"), f"{path}.kind", ("feed", "page"))
        if url not in urls:
            urls.add(url)
            plan.sources.append((url, name, kind))
            plan.origins.append(f"{path}.url")


def read_opml(data: bytes, *, allow_private: bool) -> ImportPlan:
    try:
        root = parse_untrusted_xml(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise ImportProblem("forbidden_xml") from None
    except ParseError as exc:
        line, column = exc.position
        where = UserError("import_check.position", line=line, column=column + 1)
        raise ImportProblem("bad_xml", detail=where) from None
    body = root.find("body") if root.tag == "opml" else None
    if body is None:
        raise ImportProblem("not_opml")
    plan = ImportPlan()
    urls: set[str] = set()
    for index, outline in enumerate(body.iter("outline")):
        raw = outline.get("xmlUrl", outline.get("xmlurl"))
        if raw is None:
            continue  # a folder
        url = _url(raw, f"outline[{index}].xmlUrl", allow_private)
        name = shorten(outline.get("title") or outline.get("text") or "", 200)
        if url not in urls:
            urls.add(url)
            plan.sources.append((url, name, "feed"))
            plan.origins.append(f"outline[{index}].xmlUrl")
    if not plan.sources:
        raise ImportProblem("no_feeds")
    return plan
