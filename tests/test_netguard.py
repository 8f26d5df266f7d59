from __future__ import annotations

import ipaddress

import pytest

from bot.sources.netguard import (
    BlockedAddress,
    is_public_address,
    parse_ip_literal,
    resolve_public,
    validate_url,
)

REFUSED_ADDRESSES = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/feed",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "https://example.com@127.0.0.1/",
    "http://example.com:80@10.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED_ADDRESSES)
def test_non_public_addresses_are_blocked(url: str) -> None:
    with pytest.raises(BlockedAddress):
        validate_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://example.com/",
        "http://",
        "http:///feed",
        "example.com/feed",
        "",
        "http://exa mple.com/",
        "http://example.com/\nHost: evil",
        "http://example.com\\@127.0.0.1/",
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http://example.com/" + "a" * 2048,
        "http://example.com:99999/",
    ],
)
def test_malformed_or_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises((ValueError, BlockedAddress)):
        validate_url(url, allow_private=False)


def test_userinfo_is_refused_even_with_allow_private() -> None:
    with pytest.raises(ValueError):
        validate_url("http://user@example.com/", allow_private=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://93.184.216.34/", "http://93.184.216.34/"),
        ("https://[2606:4700::1111]/feed", "https://[2606:4700::1111]/feed"),
        ("HTTPS://Example.COM/Feed.xml#top", "https://example.com/Feed.xml"),
        ("  https://example.com/rss?a=1  ", "https://example.com/rss?a=1"),
        ("https://bücher.de/feed", "https://xn--bcher-kva.de/feed"),
        ("http://[::ffff:93.184.216.34]/", "http://[::ffff:93.184.216.34]/"),
    ],
)
def test_public_urls_pass_and_are_normalized(url: str, expected: str) -> None:
    assert validate_url(url, allow_private=False) == expected


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/feed", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"]
)
def test_allow_private_lets_local_addresses_through(url: str) -> None:
    assert validate_url(url, allow_private=True)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("deadbeef", None),
    ],
)
def test_parse_ip_literal_reads_like_a_resolver(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("10.255.255.255", False),
        ("100.127.255.255", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b:1::1", False),
        ("2001:db8::1", False),
        ("ff0e::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_resolve_public_refuses_names_resolving_to_loopback() -> None:
    with pytest.raises(BlockedAddress):
        await resolve_public("localhost", 80, allow_private=False)


async def test_resolve_public_refuses_literal_private_address() -> None:
    with pytest.raises(BlockedAddress):
        await resolve_public("127.0.0.1", 80, allow_private=False)


async def test_resolve_public_returns_addresses_when_private_allowed() -> None:
    assert "127.0.0.1" in await resolve_public("127.0.0.1", 80, allow_private=True)


async def test_resolve_public_accepts_public_literal_without_dns() -> None:
    assert await resolve_public("93.184.216.34", 443, allow_private=False) == ["93.184.216.34"]
