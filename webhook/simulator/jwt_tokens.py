"""Minimal HS256 JWT minting, stdlib only.

Clients read `exp` from the access token to refresh ahead of expiry, so the
simulator hands out real three-part JWTs rather than opaque strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

ISSUER = "vcf-auth"
AUDIENCE = "sddc-services"
SCOPES = [
    "BACKUP_CONFIG_READ",
    "BACKUP_CONFIG_WRITE",
    "CREDENTIAL_READ",
    "TASK_READ",
    "TASK_WRITE",
    "USER_READ",
]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_access_token(key: bytes, username: str, issued_at: float, ttl_seconds: float) -> str:
    """Sign an access token whose claims mirror the appliance's tokens."""
    iat = int(issued_at)
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "iat": iat,
        "nbf": iat,
        "exp": int(issued_at + ttl_seconds),
        "sub": username,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "user": username,
        "name": username,
        "scope": list(SCOPES),
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def decode_claims(token: str) -> dict[str, Any]:
    """Return a JWT's payload without checking the signature (test helper)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a three-part JWT")
    claims = json.loads(_b64url_decode(parts[1]))
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims
