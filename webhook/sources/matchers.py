"""Prometheus/Alertmanager label matchers (``name="v"``, ``!=``, ``=~``, ``!~``), parsed from settings.

Operators already write these in ``alertmanager.yml`` routes and in ``amtool``, so the service takes
the same syntax: ``vcf_backup="true",severity=~"critical|warning"``. Regexes are anchored at both
ends and a missing label counts as the empty string, as in Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME_OP = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
_SEPARATOR = re.compile(r"\s*(,|$)")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, op: str, value: str) -> Matcher:
        if op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"unknown matcher operator {op!r}")
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value)
            except re.error as exc:
                raise ValueError(f"{name}{op}{_quote(value)}: invalid regular expression ({exc})") from None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The string starting at the opening quote ``text[pos]``; returns (value, index after closing quote)."""
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            # Unknown escapes stay as written, so regexes like "\d+" keep their backslash.
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise ValueError(f"unterminated quoted value starting at position {pos}")


def parse_matchers(text: str | None) -> tuple[Matcher, ...]:
    """Parse a comma-separated matcher list (optionally wrapped in ``{}``); empty → no matchers.

    Raises ``ValueError`` saying where the text stopped making sense.
    """
    source = (text or "").strip()
    if source.startswith("{") and source.endswith("}"):
        source = source[1:-1]
    found: list[Matcher] = []
    pos = 0
    while pos < len(source):
        if not source[pos:].strip():
            break
        head = _NAME_OP.match(source, pos)
        if head is None:
            raise ValueError(f"expected name=\"value\" (or !=, =~, !~) at position {pos}: "
                             f"{source[pos:pos + 30]!r}")
        name, op = head.group(1), head.group(2)
        pos = head.end()
        if source.startswith('"', pos):
            value, pos = _quoted(source, pos)
        else:
            end = source.find(",", pos)
            end = len(source) if end < 0 else end
            value = source[pos:end].strip()
            if '"' in value:
                raise ValueError(f"stray quote in the value of {name!r}")
            pos = end
        found.append(Matcher.of(name, op, value))
        rest = _SEPARATOR.match(source, pos)
        if rest is None:
            raise ValueError(f"expected a comma after {found[-1]} at position {pos}: {source[pos:pos + 30]!r}")
        pos = rest.end()
    return tuple(found)


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def describe(matchers: tuple[Matcher, ...]) -> str:
    return "{" + ", ".join(str(m) for m in matchers) + "}" if matchers else "{} (every alert)"
