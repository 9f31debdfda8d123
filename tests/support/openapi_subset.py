"""Validate HTTP exchanges against the vendored SDDC Manager OpenAPI subset.

Used on both sides of the wire: on the simulator's log (does it answer like
the real API?) and on our client's traffic (does it send what the API takes?).
Mismatches raise AssertionError with the operation, status and schema path.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, oas30_format_checker

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "vcf-openapi-backup-subset.json"
_JSON = "application/json"


@lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """The OpenAPI document, parsed once per process."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


@lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Path templates as regexes; literal paths win over ones with parameters."""
    compiled = []
    for template in load_spec()["paths"]:
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        compiled.append((re.compile(f"^{pattern}$"), template))
    compiled.sort(key=lambda item: item[1].count("{"))
    return compiled


def match_path(path: str) -> str:
    """Map a concrete path ("/v1/tasks/abc") to its template ("/v1/tasks/{id}")."""
    bare = urlsplit(path).path if "://" in path or "?" in path else path
    for regex, template in _templates():
        if regex.match(bare):
            return template
    raise AssertionError(f"{path!r} matches no path of the OpenAPI subset")


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """Return (template, operation object) for a request, or raise AssertionError."""
    template = match_path(path)
    operation = load_spec()["paths"][template].get(method.lower())
    if operation is None:
        raise AssertionError(f"{method.upper()} {template} is not an operation of the OpenAPI subset")
    return template, operation


@cache
def _validator(schema_json: str, direction: str) -> Any:
    """An OAS 3.0 validator whose root also holds `components`, so $refs resolve.

    Responses use the read validator: it enforces `required` even for
    readOnly fields (Task.id is both). Requests use the plain OAS 3.0 one,
    because the subset marks some request schemas (Encryption) readOnly as a
    whole and the write validator would reject every such request.
    """
    root = dict(json.loads(schema_json))
    root["components"] = load_spec()["components"]
    cls = OAS30ReadValidator if direction == "response" else OAS30Validator
    return cls(root, format_checker=oas30_format_checker)


def _check(schema: dict[str, Any], instance: Any, what: str, direction: str = "response") -> None:
    validator = _validator(json.dumps(schema, sort_keys=True), direction)
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        where = error.json_path
        raise AssertionError(
            f"{what} does not conform to {schema.get('$ref', schema)} at {where}: {error.message}\n"
            f"body: {json.dumps(instance)[:1500]}"
        )


def _json_schema(content: dict[str, Any] | None) -> dict[str, Any] | None:
    if not content:
        return None
    media = content.get(_JSON) or next(iter(content.values()))
    schema = media.get("schema")
    return schema if isinstance(schema, dict) else None


def validate_schema(name: str, instance: Any) -> None:
    """Validate a value against a named component schema (e.g. "Task")."""
    if name not in load_spec()["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in the OpenAPI subset")
    _check({"$ref": f"#/components/schemas/{name}"}, instance, f"value for {name}")


def validate_request(method: str, path: str, request_body: object | None) -> None:
    """Check a request body against the operation's requestBody schema."""
    template, operation = find_operation(method, path)
    what = f"request body of {method.upper()} {template}"
    spec = operation.get("requestBody")
    if spec is None:
        if request_body is not None:
            raise AssertionError(f"{method.upper()} {template} takes no request body, got one")
        return
    if request_body is None:
        if spec.get("required"):
            raise AssertionError(f"{what} is required but missing (or not JSON)")
        return
    schema = _json_schema(spec.get("content"))
    if schema is not None:
        _check(schema, request_body, what, "request")


def _documented_response(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    responses: dict[str, Any] = operation.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return responses[key]  # type: ignore[no-any-return]
    return None


def validate_response(method: str, path: str, status: int, response_body: object | None) -> None:
    """Check a response body against the schema documented for its status.

    A status the operation does not document must carry an `Error` body (or
    none), because that is the API's one error shape.
    """
    template, operation = find_operation(method, path)
    what = f"{status} response of {method.upper()} {template}"
    documented = _documented_response(operation, status)
    if documented is None:
        if response_body not in (None, ""):
            _check({"$ref": "#/components/schemas/Error"}, response_body, f"{what} (undocumented status)")
        return
    schema = _json_schema(documented.get("content"))
    if schema is None:
        if response_body not in (None, ""):
            raise AssertionError(f"{what} is documented without a body, got {response_body!r}"[:500])
        return
    if response_body is None:
        raise AssertionError(f"{what} must have a JSON body ({schema.get('$ref', schema)}), got none")
    _check(schema, response_body, what)


def validate_exchange(
    method: str,
    path: str,
    status: int,
    request_body: object | None,
    response_body: object | None,
    *,
    check_request: bool = True,
) -> None:
    """Validate one request/response pair against the OpenAPI subset.

    Args:
        method: HTTP method, any case.
        path: Concrete request path; a query string is ignored.
        status: HTTP status of the answer.
        request_body: JSON-decoded request body, or None when there was none.
        response_body: JSON-decoded response body, or None when empty.
        check_request: Set False for requests sent malformed on purpose
            (e.g. to provoke a 400), whose body is expected not to conform.

    Raises:
        AssertionError: the path/method is not in the subset or a body does not conform.
    """
    if check_request:
        validate_request(method, path, request_body)
    else:
        find_operation(method, path)
    validate_response(method, path, status, response_body)
