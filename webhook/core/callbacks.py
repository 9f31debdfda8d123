"""Which callback URLs the service may call: an allowlist, https by default, never metadata endpoints."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from .errors import CallbackRefused

# Link-local (cloud metadata lives at 169.254.169.254) and AWS's IPv6 metadata address.
_FORBIDDEN_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


@functools.lru_cache(maxsize=4096)
def is_forbidden_address(address: str) -> bool:
    """True for addresses no callback may reach, whatever the allowlist says (cached: every callback asks)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _FORBIDDEN_NETWORKS)


@functools.lru_cache(maxsize=4096)
def is_internal_address(address: str) -> bool:
    """Loopback, private and unique-local addresses (and ``localhost``): reached only when listed by name."""
    if address.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_unspecified or ip.is_reserved


@dataclass(frozen=True)
class HostAllowlist:
    """``host`` or ``host:port`` entries; ``*.example.com`` matches any subdomain of example.com."""

    entries: tuple[str, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> HostAllowlist:
        return cls(tuple(e.strip().lower() for e in entries if e.strip()))

    def allows(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        for entry in self.entries:
            pattern, _, entry_port = _split_entry(entry)
            if entry_port and entry_port != str(port):
                continue
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and host != pattern[2:]:
                    return True
            elif fnmatchcase(host, pattern):
                return True
        return False

    def names(self, host: str, port: int) -> bool:
        """True if an entry without wildcards names this host (and port, if it gives one)."""
        return _names(self, host, port)


@functools.lru_cache(maxsize=1024)
def _names(allowlist: HostAllowlist, host: str, port: int) -> bool:
    """``HostAllowlist.names``, cached: each callback's send-time check asks it for the same few hosts."""
    exact = HostAllowlist(tuple(e for e in allowlist.entries if not any(c in e for c in "*?[")
                                or e.startswith("[")))
    return exact.allows(host, port)


def _split_entry(entry: str) -> tuple[str, str, str]:
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        return host, ":", rest.lstrip(":")
    if entry.count(":") == 1:
        return entry.partition(":")
    return entry, "", ""


def _names_exact_port(entry: str) -> bool:
    """``host:port`` (or ``[v6]:port``) written out without wildcards."""
    has_port = "]:" in entry if entry.startswith("[") else entry.count(":") == 1
    return has_port and not any(c in entry for c in "*?")


@dataclass(frozen=True)
class CallbackPolicy:
    """Which URLs one kind of outbound call may reach (generic callbacks, Slack, HCP Terraform).

    ``allow_http`` lets plain http reach any allowed host (generic callbacks, opt-in); with
    ``http_to_exact_ports`` plain http is allowed only to a ``host:port`` entry written out exactly,
    a deliberate local stand-in for a sender that itself always uses https (Slack, HCP Terraform).
    """

    allowlist: HostAllowlist
    allow_http: bool = False
    setting_name: str = "VCFBACKUP_CALLBACK_ALLOWED_HOSTS"
    what: str = "callbackUrl"
    http_to_exact_ports: bool = False

    @classmethod
    def exact_http(cls, entries: Iterable[str], *, setting_name: str, what: str) -> CallbackPolicy:
        return cls(HostAllowlist.of(entries), setting_name=setting_name, what=what, http_to_exact_ports=True)

    def _http_allowed(self, host: str, port: int) -> bool:
        if self.allow_http:
            return True
        exact = HostAllowlist(tuple(e for e in self.allowlist.entries if _names_exact_port(e)))
        return self.http_to_exact_ports and exact.allows(host, port)

    def check(self, url: str) -> str:
        """Return the URL if it may be called, else raise ``CallbackRefused`` saying why."""
        what = self.what
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise CallbackRefused(f"{what} is not a valid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if scheme not in ("https", "http") or not host:
            raise CallbackRefused(f"{what} must be an absolute https URL.")
        if parts.username or parts.password:
            raise CallbackRefused(f"{what} must not carry credentials in the URL.")
        refusal = _refusal(self, scheme, host, port or (443 if scheme == "https" else 80))
        if refusal is not None:
            message, remediation = refusal
            raise CallbackRefused(message, remediation=remediation)
        return url


@functools.lru_cache(maxsize=1024)
def _refusal(policy: CallbackPolicy, scheme: str, host: str, port: int) -> tuple[str, str | None] | None:
    """Why ``policy`` refuses this scheme, host and port (message, remediation), or None.

    Cached: the answer depends only on these, and every hook request with a callback asks it again
    for the same few hosts (the per-URL checks above still run on every call).
    """
    what = policy.what
    if is_forbidden_address(host):
        return f"{what} host {host} is a link-local or metadata address and is never called.", None
    remediation = f"Ask the operators to add it to {policy.setting_name} (host or host:port entries)."
    if not policy.allowlist.allows(host, port):
        return (f"{what} host {host}:{port} is not on the allowlist ({policy.setting_name}).", remediation)
    if is_internal_address(host) and not policy.allowlist.names(host, port):
        # A wildcard such as a bare "*" must not open loopback and internal ports to every caller.
        return (f"{what} host {host} is a loopback or private address, which a wildcard entry does not cover.",
                f"List it by name in {policy.setting_name} (host or host:port) if it is meant.")
    if scheme == "http" and not policy._http_allowed(host, port):
        if policy.http_to_exact_ports:
            return (f"{what} uses plain http, which is only allowed to a host:port listed exactly in "
                    f"{policy.setting_name}.", remediation)
        return (f"{what} uses plain http, which is off.",
                "Use https, or set VCFBACKUP_CALLBACK_ALLOW_HTTP=true for a trusted network.")
    return None
