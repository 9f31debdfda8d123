"""check_bounds: NUL anywhere (keys, values, nested) and nesting beyond the limit are refused before storing."""

from __future__ import annotations

import pytest

from webhook.core.errors import InvalidRequest
from webhook.core.limits import MAX_JSON_DEPTH
from webhook.core.validation import check_bounds, parse_json


def nested(levels: int) -> list[object]:
    root: list[object] = []
    current = root
    for _ in range(levels - 1):
        child: list[object] = []
        current.append(child)
        current = child
    return root


@pytest.mark.parametrize("value", [
    "a\x00", {"k": "v\x00"}, {"k\x00": 1}, [1, ["x", {"deep": ["\x00"]}]], {"a": {"b": {"c\x00": {}}}},
])
def test_a_nul_anywhere_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequest, match="NUL"):
        check_bounds(value)


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused() -> None:
    check_bounds(nested(MAX_JSON_DEPTH))
    with pytest.raises(InvalidRequest, match="nested deeper"):
        check_bounds(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(InvalidRequest, match="nested deeper"):
        check_bounds({"a": nested(MAX_JSON_DEPTH)})


def test_plain_documents_pass_and_escaped_nul_in_json_is_refused() -> None:
    check_bounds({"labels": {"a": "b"}, "alerts": [{"x": 1, "y": None, "z": [True, 1.5, "s"]}]})
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_json(b'{"reason": "a\\u0000b"}')
    assert parse_json('{"r": "\u2603"}'.encode("utf-16")) == {"r": "\u2603"}


@pytest.mark.parametrize("body", [
    b'{"k\\u0000": 1}', b'[1, {"deep": ["\\u0000"]}]', '{"r": "a\\u0000"}'.encode("utf-16"),
])
def test_parsed_json_with_an_escaped_nul_anywhere_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_json(body)


def test_parsed_json_nested_past_the_limit_is_refused_and_at_the_limit_passes() -> None:
    at_limit = ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH).encode()
    assert parse_json(at_limit) == nested(MAX_JSON_DEPTH)
    with pytest.raises(InvalidRequest, match="nested deeper"):
        parse_json(("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode())
    # Brackets inside strings only make the check walk the document; they never refuse it.
    assert parse_json(('{"s": "' + "[{" * 40 + '", "t": "\\\\u0000"}').encode()) == {"s": "[{" * 40, "t": "\\u0000"}
