"""Who may read the status page: a token (form login → signed cookie, or a Bearer header), or a proxy's user.

The login cookie is signed (itsdangerous), HttpOnly, SameSite=Lax, Secure over https, and scoped to
/ui. It names the token and carries a keyed fingerprint of it, so removing or rotating a token ends
the sessions made with it. The login form is CSRF-safe twice over: SameSite keeps other sites'
POSTs from carrying cookies, and the form must echo a nonce that only a signed cookie set with the
form knows. The proxy header counts only when the operator names it (and the proxy strips it from
clients); otherwise anyone could send it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from flask import request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from ...sources.auth import bearer_token

log = logging.getLogger("webhook.ui")

SESSION_COOKIE = "vcfbackup_ui"
CSRF_COOKIE = "vcfbackup_ui_login"
COOKIE_PATH = "/ui"
LOGIN_FORM_MAX_AGE = 3600


@dataclass(frozen=True)
class Viewer:
    name: str
    how: str  # session, bearer, proxy
    csrf: str | None = None  # the logout form's token (sessions only)


class UiAuth:
    def __init__(self, tokens: Mapping[str, str], secret: bytes, *, proxy_user_header: str | None = None,
                 session_lifetime: float = 12 * 3600.0, secure_cookie: bool = False) -> None:
        self.tokens = dict(tokens)
        self.secret = secret
        self.proxy_user_header = proxy_user_header or None
        self.session_lifetime = session_lifetime
        self.secure_cookie = secure_cookie
        self._serializer = URLSafeTimedSerializer(secret, salt="vcf-backup-webhook ui")

    @classmethod
    def with_secret(cls, tokens: Mapping[str, str], secret: str | None, **kwargs: object) -> UiAuth:
        """A configured secret, or a random one for this process (logins then end at restart)."""
        if not secret:
            log.warning("no VCFBACKUP_UI_SECRET: status page logins are signed with a key made at start-up; they end "
                        "when the service restarts and hold only in the process that made them",
                        extra={"event": "ui.ephemeral_secret"})
        key = secret.encode() if secret else secrets.token_bytes(32)
        return cls(tokens, key, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ tokens
    def token_name(self, presented: str | None) -> str | None:
        """The name of the token presented; every token is compared so timing reveals nothing."""
        if not presented:
            return None
        found = None
        for name, token in self.tokens.items():
            if hmac.compare_digest(presented.encode(), token.encode()):
                found = name
        return found

    def _fingerprint(self, name: str) -> str:
        token = self.tokens.get(name, "")
        return hmac.new(self.secret, f"{name}\0{token}".encode(), hashlib.sha256).hexdigest()[:24]

    # ------------------------------------------------------------------ who is asking
    def viewer(self) -> Viewer | None:
        """The credential on this request: a Bearer header, then the proxy's user, then the login cookie.

        A Bearer header that is present but wrong is a refusal, not a fallback to the cookie.
        """
        if request.headers.get("Authorization"):
            name = self.token_name(bearer_token(request.headers.get("Authorization")))
            return Viewer(name, "bearer") if name else None
        if self.proxy_user_header:
            user = request.headers.get(self.proxy_user_header, "").strip()
            if user:
                return Viewer(user[:200], "proxy")
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=int(self.session_lifetime), salt="session")
        except BadSignature:  # includes expired
            return None
        name = data.get("n") if isinstance(data, dict) else None
        if not isinstance(name, str) or name not in self.tokens:
            return None
        if not hmac.compare_digest(str(data.get("f", "")), self._fingerprint(name)):
            return None  # the token was rotated since this login
        return Viewer(name, "session", str(data.get("c", "")))

    def bearer_refused(self) -> bool:
        return bool(request.headers.get("Authorization"))

    # ------------------------------------------------------------------ cookies
    def _cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="Lax",
                            secure=self.secure_cookie or request.is_secure)

    def new_login_form(self, response: Response, nonce: str) -> None:
        self._cookie(response, CSRF_COOKIE, self._serializer.dumps(nonce, salt="login"), LOGIN_FORM_MAX_AGE)

    def login_form_valid(self, echoed: str | None) -> bool:
        raw = request.cookies.get(CSRF_COOKIE)
        if not raw or not echoed:
            return False
        try:
            nonce = self._serializer.loads(raw, max_age=LOGIN_FORM_MAX_AGE, salt="login")
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, echoed)

    def log_in(self, response: Response, name: str) -> None:
        data = {"n": name, "f": self._fingerprint(name), "c": secrets.token_urlsafe(16)}
        self._cookie(response, SESSION_COOKIE, self._serializer.dumps(data, salt="session"),
                     int(self.session_lifetime))
        response.delete_cookie(CSRF_COOKIE, path=COOKIE_PATH)

    def log_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax",
                               secure=self.secure_cookie or request.is_secure)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path of this page (never another site)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target \
            and "\n" not in target and "\r" not in target:
        return target
    return "/ui/"
