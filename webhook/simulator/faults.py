"""Scriptable faults: failing and slow answers, parsed from /sim/faults JSON.

Tests use these to reproduce outages, timeouts and "the server acted but the
client never heard back" without touching the simulator's code.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from webhook.simulator.config import OUTCOMES

# JSON key -> (SimulatorConfig field, expected kind)
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "configured": ("configured", "bool"),
    "refuseConcurrent": ("refuse_concurrent", "bool"),
    "tokenTtlSeconds": ("token_ttl_seconds", "number"),
    "backupSeconds": ("backup_seconds", "number"),
    "outcome": ("outcome", "str"),
    "statusStyle": ("status_style", "str"),
}
_OTHER_KEYS = {"fail", "delay", "expireTokensNow", "nextOutcomes", "clearFaults"}


@dataclass
class FailRule:
    """Answer the next `times` matching requests with `status` (negative = forever)."""

    method: str
    path: str
    status: int
    times: int = 1
    error_code: str | None = None
    message: str | None = None
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies; path is a glob (fnmatch, case-sensitive)."""
        return _matches(self.method, self.path, method, path)


@dataclass
class DelayRule:
    """Sleep `seconds` before handling ("before") or before answering ("after")."""

    method: str
    path: str
    seconds: float
    times: int = 1
    when: str = "before"

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies; path is a glob (fnmatch, case-sensitive)."""
        return _matches(self.method, self.path, method, path)


@dataclass
class FaultUpdate:
    """Everything one /sim/faults document asks for."""

    fails: list[FailRule] = field(default_factory=list)
    delays: list[DelayRule] = field(default_factory=list)
    config_changes: dict[str, Any] = field(default_factory=dict)
    expire_tokens_now: bool = False
    next_outcomes: list[str] | None = None
    clear_faults: bool = False


def _matches(rule_method: str, rule_path: str, method: str, path: str) -> bool:
    if rule_method != "*" and rule_method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(path, rule_path)


def take_rule(rules: list[Any], method: str, path: str) -> Any | None:
    """Consume one use of the first matching rule; call with the state lock held."""
    for index, rule in enumerate(rules):
        if rule.times != 0 and rule.matches(method, path):
            if rule.times > 0:
                rule.times -= 1
                if rule.times == 0:
                    del rules[index]
            return rule
    return None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _common(item: Any, kind: str) -> tuple[str, str, int]:
    _require(isinstance(item, dict), f"each {kind} rule must be an object")
    method = item.get("method", "*")
    path = item.get("path")
    times = item.get("times", 1)
    _require(isinstance(method, str) and bool(method), f"{kind}.method must be a string")
    _require(isinstance(path, str) and bool(path), f"{kind}.path must be a non-empty glob")
    _require(isinstance(times, int) and not isinstance(times, bool), f"{kind}.times must be an int")
    return method, path, times


def parse_fail(item: Any) -> FailRule:
    """Build a FailRule from its JSON form, raising ValueError on bad input."""
    method, path, times = _common(item, "fail")
    status = item.get("status", 500)
    _require(isinstance(status, int) and 100 <= status <= 599, "fail.status must be an HTTP status")
    headers = item.get("headers", {})
    _require(isinstance(headers, dict), "fail.headers must be an object")
    body = item.get("body")
    _require(body is None or isinstance(body, str), "fail.body must be a string")
    return FailRule(
        method, path, status, times,
        error_code=item.get("errorCode"), message=item.get("message"), body=body,
        headers={str(k): str(v) for k, v in headers.items()},
    )


def parse_delay(item: Any) -> DelayRule:
    """Build a DelayRule from its JSON form, raising ValueError on bad input."""
    method, path, times = _common(item, "delay")
    seconds = item.get("seconds")
    when = item.get("when", "before")
    _require(_is_number(seconds) and seconds >= 0, "delay.seconds must be a number >= 0")
    _require(when in ("before", "after"), 'delay.when must be "before" or "after"')
    return DelayRule(method, path, float(seconds), times, when)


def _parse_config_value(key: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        _require(isinstance(value, bool), f"{key} must be a boolean")
        return value
    if kind == "number":
        _require(_is_number(value) and value >= 0, f"{key} must be a number >= 0")
        return float(value)
    _require(isinstance(value, str), f"{key} must be a string")
    return value


def parse_fault_document(payload: Any) -> FaultUpdate:
    """Parse a /sim/faults body; unknown keys are errors so typos fail loudly."""
    _require(isinstance(payload, dict), "fault document must be a JSON object")
    unknown = set(payload) - set(CONFIG_KEYS) - _OTHER_KEYS
    _require(not unknown, f"unknown fault keys: {sorted(unknown)}")
    update = FaultUpdate()
    fails = payload.get("fail", [])
    delays = payload.get("delay", [])
    _require(isinstance(fails, list), "fail must be a list")
    _require(isinstance(delays, list), "delay must be a list")
    update.fails = [parse_fail(item) for item in fails]
    update.delays = [parse_delay(item) for item in delays]
    for key, (attr, kind) in CONFIG_KEYS.items():
        if key in payload:
            update.config_changes[attr] = _parse_config_value(key, kind, payload[key])
    expire = payload.get("expireTokensNow", False)
    _require(isinstance(expire, bool), "expireTokensNow must be a boolean")
    update.expire_tokens_now = expire
    clear = payload.get("clearFaults", False)
    _require(isinstance(clear, bool), "clearFaults must be a boolean")
    update.clear_faults = clear
    if "nextOutcomes" in payload:
        outcomes = payload["nextOutcomes"]
        _require(
            isinstance(outcomes, list) and all(o in OUTCOMES for o in outcomes),
            f"nextOutcomes must be a list of {OUTCOMES}",
        )
        update.next_outcomes = list(outcomes)
    return update
