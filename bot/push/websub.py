"""WebSub (W3C Recommendation) for a subscriber: discovery, leases and signatures.

Pure functions over strings and bytes; the subscriber (`bot.push.subscriber`) does the I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

MIN_LEASE = 300  # seconds: a hub's lease of 0 (or a few seconds) would mean resubscribing nonstop
MAX_LEASE = 10 * 24 * 3600  # a lease of years is taken as ten days: renewals prove the hub lives
REQUESTED_LEASE = 7 * 24 * 3600
SECRET_BYTES = 32  # hex-encoded: 64 characters, under the spec's 200-byte limit
DISCOVERY_SCAN = 64 * 1024  # feed bytes searched for <link rel="hub">: they sit in the header
# Strongest first. The spec names sha1, sha256, sha384 and sha512.
SIGNATURE_METHODS = ("sha512", "sha384", "sha256", "sha1")

_LINK_TAG = re.compile(rb"<(?:[a-zA-Z0-9_]+:)?link\b[^>]{0,2000}>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_LINK_VALUE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_LINK_PARAM = re.compile(r";\s*([a-zA-Z*]+)\s*=\s*(?:\"([^\"]*)\"|([^;,\s]*))")


@dataclass(frozen=True, slots=True)
class Discovery:
    hub: str | None
    topic: str | None  # the feed's canonical ("self") URL, which is what one subscribes to


def link_header_rels(values: list[str], base: str) -> dict[str, str]:
    """The first URL for each relation in HTTP `Link` headers (RFC 8288), made absolute."""
    found: dict[str, str] = {}
    for value in values:
        for match in _LINK_VALUE.finditer(value):
            target, params = match.group(1).strip(), match.group(2)
            for name, quoted, bare in _LINK_PARAM.findall(params):
                if name.lower() != "rel":
                    continue
                for rel in (quoted or bare).lower().split():
                    found.setdefault(rel, urljoin(base, target))
    return found


def feed_link_rels(body: bytes, base: str) -> dict[str, str]:
    """The first URL for each relation in the feed's `<link rel=… href=…>` elements (Atom, or
    atom:link inside RSS). A pattern over the head of the body, not a parser: the feed is
    untrusted, and only these attributes matter."""
    found: dict[str, str] = {}
    for tag in _LINK_TAG.finditer(body[:DISCOVERY_SCAN]):
        attributes = {
            name.lower(): (double or single)
            for name, double, single in _ATTRIBUTE.findall(tag.group(0))
        }
        href = attributes.get(b"href", b"").decode("utf-8", "replace").strip()
        rels = attributes.get(b"rel", b"").decode("ascii", "replace").lower().split()
        if not href:
            continue
        for rel in rels:
            found.setdefault(rel, urljoin(base, href))
    return found


def discover(headers: dict[str, str], body: bytes, url: str) -> Discovery:
    """The hub and self URLs of a fetched feed; HTTP Link headers win over the feed's own,
    as the spec asks. `headers` has lower-cased names; repeated headers are comma-joined."""
    from_headers = link_header_rels([headers["link"]] if headers.get("link") else [], url)
    from_body = feed_link_rels(body, url)
    hub = from_headers.get("hub") or from_body.get("hub")
    topic = from_headers.get("self") or from_body.get("self")
    if hub is None:
        return Discovery(None, None)
    return Discovery(hub, topic or url)


def new_secret() -> str:
    return secrets.token_hex(SECRET_BYTES)


def signature_valid(header: str | None, secret: str, body: bytes) -> bool:
    """Whether `X-Hub-Signature: method=hexdigest` is the HMAC of `body` under `secret`."""
    if not header or "=" not in header:
        return False
    method, _, digest = header.strip().partition("=")
    method = method.strip().lower()
    if method not in SIGNATURE_METHODS:
        return False
    expected = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The header value a hub sends (used by tests and the bench's local hub)."""
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


def clamp_lease(value: str | int | None) -> int:
    """The hub's lease in seconds, within [MIN_LEASE, MAX_LEASE]; missing means the lease
    asked for, unreadable means MIN_LEASE (renewed soon, when the hub may say more)."""
    try:
        seconds = int(value) if value is not None and str(value).strip() else REQUESTED_LEASE
    except ValueError:
        seconds = MIN_LEASE
    return min(max(seconds, MIN_LEASE), MAX_LEASE)


def renew_at(verified: datetime, lease_seconds: int) -> datetime:
    """When to subscribe again: with a tenth of the lease (at least a minute) still left."""
    margin = max(60.0, lease_seconds / 10)
    return verified + timedelta(seconds=max(lease_seconds - margin, lease_seconds / 2))


def callback_url(public_url: str, subscription_id: int) -> str:
    return f"{public_url.rstrip('/')}/websub/{subscription_id}"
