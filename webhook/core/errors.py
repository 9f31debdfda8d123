"""The error tree. Each error knows the HTTP status and Error body it maps to.

::

    ServiceError                     500  something we did not expect
    ├── RequestRejected              4xx  the caller can fix it
    │   ├── InvalidRequest           400  malformed JSON, wrong types, unknown values
    │   ├── CallbackRefused          400  callback URL not allowed
    │   ├── Unauthenticated          401  missing or wrong credentials / signature
    │   ├── Forbidden                403  authenticated but not allowed
    │   ├── NotFound                 404
    │   ├── PayloadTooLarge          413
    │   └── UnsupportedMediaType     415
    ├── StoreUnavailable             503  nothing was stored; the sender should retry
    └── SddcManagerError             502  SDDC Manager answered with an error (its Error body kept)
        └── SddcManagerUnreachable   502  connection failed or timed out: the outcome is unknown

Messages never contain secrets: they are written for the person reading the response.
"""

from __future__ import annotations

from .models import Error


class ServiceError(Exception):
    status = 500
    error_code = "VCFBACKUP_INTERNAL_ERROR"
    error_type = "ERROR"
    remediation = "Retry later; if it persists, report the referenceToken to the operators of this service."

    def __init__(self, message: str, *, remediation: str | None = None, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if remediation is not None:
            self.remediation = remediation
        if error_code is not None:
            self.error_code = error_code

    def to_error(self, reference_token: str) -> Error:
        return Error(
            errorCode=self.error_code,
            errorType=self.error_type,
            message=self.message,
            remediationMessage=self.remediation,
            referenceToken=reference_token,
        )


class RequestRejected(ServiceError):
    status = 400
    error_code = "VCFBACKUP_BAD_REQUEST"
    remediation = "Fix the request and send it again."


class InvalidRequest(RequestRejected):
    error_code = "VCFBACKUP_INVALID_REQUEST"


class CallbackRefused(RequestRejected):
    error_code = "VCFBACKUP_CALLBACK_REFUSED"
    remediation = (
        "Use an https callback URL whose host is listed in VCFBACKUP_CALLBACK_ALLOWED_HOSTS, "
        "or ask the operators to add it."
    )


class Unauthenticated(RequestRejected):
    status = 401
    error_code = "VCFBACKUP_UNAUTHENTICATED"
    remediation = "Send valid credentials (see the README for how this source authenticates)."


class Forbidden(RequestRejected):
    status = 403
    error_code = "VCFBACKUP_FORBIDDEN"
    remediation = "Ask the operators of this service for access."


class NotFound(RequestRejected):
    status = 404
    error_code = "VCFBACKUP_NOT_FOUND"
    remediation = "Check the id or URL."


class PayloadTooLarge(RequestRejected):
    status = 413
    error_code = "VCFBACKUP_PAYLOAD_TOO_LARGE"
    remediation = "Send a smaller body, or raise VCFBACKUP_MAX_BODY_BYTES."


class UnsupportedMediaType(RequestRejected):
    status = 415
    error_code = "VCFBACKUP_UNSUPPORTED_MEDIA_TYPE"
    remediation = "Send the body as application/json."


class StoreUnavailable(ServiceError):
    status = 503
    error_code = "VCFBACKUP_STORE_UNAVAILABLE"
    remediation = "Nothing was stored: send the request again. Operators: check the database (VCFBACKUP_DATABASE_URL)."


class SddcManagerError(ServiceError):
    """SDDC Manager refused or failed a call; ``error`` is its own Error body when it sent one."""

    status = 502
    error_code = "VCFBACKUP_SDDC_MANAGER_ERROR"
    remediation = "Check SDDC Manager (its remediationMessage, if any, is in the error) and retry."

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error: Error | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message, remediation=remediation or (error.remediationMessage if error else None))
        self.http_status = http_status
        self.error = error

    @property
    def is_auth_failure(self) -> bool:
        return self.http_status in (401, 403)

    def as_sddc_error(self) -> Error:
        """The Error to report to a caller: SDDC Manager's own when it gave one."""
        if self.error is not None:
            return self.error
        return Error(errorCode=self.error_code, errorType=self.error_type, message=self.message,
                     remediationMessage=self.remediation)


class SddcManagerUnreachable(SddcManagerError):
    error_code = "VCFBACKUP_SDDC_MANAGER_UNREACHABLE"
    remediation = "Check that SDDC Manager is reachable from this service (VCFBACKUP_SDDC_URL, DNS, firewall, TLS)."
