"""Shared credential checks for inbound sources, in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ..core.errors import Unauthenticated


def credentials(authorization: str | None) -> tuple[str, str]:
    """An ``Authorization`` header as (scheme in lower case, credentials); empty strings where absent."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return scheme.lower(), value.strip()


def bearer_token(authorization: str | None) -> str | None:
    scheme, value = credentials(authorization)
    return value if scheme == "bearer" and value else None


def caller_of_token(authorization: str | None, tokens: Mapping[str, str]) -> str:
    """The configured name of the token presented; every token is compared so timing reveals nothing."""
    presented = bearer_token(authorization)
    if not tokens:
        raise Unauthenticated("No API tokens are configured, so every request is refused.",
                              remediation="Operators: set VCFBACKUP_API_TOKENS to name:token pairs.")
    if presented is None:
        raise Unauthenticated("Missing bearer token.", remediation="Send 'Authorization: Bearer <token>'.")
    found: str | None = None
    for name, token in tokens.items():
        if hmac.compare_digest(presented.encode(), token.encode()):
            found = name
    if found is None:
        raise Unauthenticated("The bearer token is not valid.")
    return found
