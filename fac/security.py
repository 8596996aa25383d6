"""HTTP hardening: the client's real address behind a trusted proxy, and the CSP header."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Headers a reverse proxy sets; from anyone else they are dropped, so that no
#: client can pass itself off as another address or as arriving over HTTPS.
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``FAC_TRUSTED_PROXIES`` entries (addresses or CIDR networks) as networks."""
    networks = []
    for value in values:
        value = value.strip()
        if value:
            networks.append(ipaddress.ip_network(value, strict=False))
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: *peer*, or, when *peer* is a trusted proxy, the last
    address of X-Forwarded-For that is not itself a trusted proxy."""
    peer_ip = _address(peer)
    if not trusted or peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return peer  # a malformed chain: trust nothing beyond the proxy
        if not any(ip in net for net in trusted):
            return str(ip)
    return peer


class TrustedProxyMiddleware:
    """REMOTE_ADDR becomes the client's address when the request came through a trusted proxy.

    Every log line, trace and throttle then sees the device or browser, not
    the proxy. Forwarding headers from a peer that is not a trusted proxy are
    removed, so SECURE_PROXY_SSL_HEADER and the address cannot be spoofed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.trusted = parse_networks(settings.FAC_TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        peer_ip = _address(peer)
        if self.trusted and peer_ip is not None and any(peer_ip in net for net in self.trusted):
            meta["REMOTE_ADDR"] = client_address(
                peer, meta.get("HTTP_X_FORWARDED_FOR"), self.trusted
            )
        else:
            for header in FORWARDED_HEADERS:
                meta.pop(header, None)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A strict Content-Security-Policy on every response (settings.FAC_CSP)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.FAC_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
