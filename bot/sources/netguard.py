"""Keeps feed fetching away from private networks (SSRF guard).

Two layers: `validate_url` refuses URLs whose host is a non-public IP literal in any
spelling a resolver accepts, and `resolve_public` / the fetcher's connection backend
refuse hostnames that resolve to non-public addresses.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from bot.domain import UserError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = frozenset({"http", "https"})

# Listed explicitly rather than relying only on `is_global`, whose tables differ
# between Python patch releases.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "100::/64",
        "64:ff9b:1::/48",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(UserError):
    """The URL or host points at an address the bot must not contact."""

    def __init__(self, message: str = "address not allowed", host: str = "") -> None:
        super().__init__("url.private", host=host or "?")
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadUrl(UserError, ValueError):
    """A URL the bot cannot use as written; `key` is `url.<name>`."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(f"url.{key}")
        self.message = message

    def __str__(self) -> str:
        return self.message


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """IPv4 addresses a packet to `ip` would actually reach, for the IPv6 forms that embed one."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [server, client]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _V4_COMPATIBLE or ip in _V4_TRANSLATED or ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return all(is_public_address(v4) for v4 in embedded)
        if ip.is_site_local or any(ip in net for net in _BLOCKED_V6):
            return False
    elif any(ip in net for net in _BLOCKED_V4):
        return False
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
    ):
        return False
    return ip.is_global


def parse_ip_literal(host: str) -> IPAddress | None:
    """Reads `host` the way a resolver would if it is an address literal, else None.

    IPv4 uses inet_aton rules, so "127.1", "2130706433", "0x7f000001" and
    "0177.0.0.1" all mean 127.0.0.1.
    """
    host = host.strip("[]").rstrip(".")
    if not host:
        return None
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    if not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_local_name(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")


def _check_host(host: str) -> None:
    if _is_local_name(host):
        raise BlockedAddress(f"{host} is a local name", host)
    ip = parse_ip_literal(host)
    if ip is not None and not is_public_address(ip):
        raise BlockedAddress(f"{ip} is not a public address", host)


def with_scheme(text: str) -> str:
    """An address as people type it ("thehindu.com/feed", "127.0.0.1:8080/rss"), as a URL."""
    text = text.strip()
    return text if "://" in text else "https://" + text


def validate_url(url: str, *, allow_private: bool) -> str:
    """Checks a URL before it is fetched and returns it normalized (no fragment).

    Raises ValueError for malformed or unsupported URLs and BlockedAddress when the
    host is a non-public address literal or a localhost name. Hostnames are not
    resolved here; the fetcher checks the address it actually connects to.
    """
    return _validated(url, allow_private)


@functools.lru_cache(maxsize=8192)  # every poll checks its source's URL again; refusals re-raise
def _validated(url: str, allow_private: bool) -> str:
    url = url.strip()
    if not url:
        raise BadUrl("empty URL", "empty")
    if len(url) > MAX_URL_LENGTH:
        raise BadUrl("URL too long", "too_long")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise BadUrl("URL contains whitespace, control characters or backslashes", "characters")
    try:
        split = urlsplit(url)
    except ValueError as exc:
        raise BadUrl("malformed URL", "malformed") from exc
    if split.scheme.lower() not in ALLOWED_SCHEMES:
        raise BadUrl("only http and https URLs are supported", "scheme")
    if not split.hostname:
        raise BadUrl("URL has no host", "no_host")
    try:
        port = split.port
    except ValueError as exc:
        raise BadUrl("invalid port", "port") from exc
    if port == 0:
        raise BadUrl("invalid port", "port")
    if not allow_private:
        # The stdlib and httpx parsers may disagree on odd URLs; check what both see.
        _check_host(split.hostname)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BadUrl("malformed URL", "malformed") from exc
    if parsed.scheme not in ALLOWED_SCHEMES or not parsed.host:
        raise BadUrl("malformed URL", "malformed")
    if not allow_private:
        _check_host(parsed.host)
    if parsed.userinfo or split.username is not None or split.password is not None:
        raise BadUrl("URL must not contain a user name or password", "credentials")
    return str(parsed.copy_with(fragment=None))


async def resolve(host: str, port: int) -> list[str]:
    """All addresses `host` resolves to, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_addresses(
    host: str, addresses: list[str], allowed: AddressPolicy = is_public_address
) -> None:
    """Raises BlockedAddress unless every address passes `allowed`."""
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not allowed(ip):
            raise BlockedAddress(f"{host} resolves to non-public address {ip}", host)


async def resolve_public(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolves `host` and refuses it if ANY address is non-public.

    DNS failures propagate as `socket.gaierror` (an OSError).
    """
    if not allow_private and _is_local_name(host):
        raise BlockedAddress(f"{host} is a local name", host)
    addresses = await resolve(host, port)
    if not allow_private:
        check_addresses(host, addresses)
    return addresses
