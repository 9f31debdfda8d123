"""The fleet: the SDDC Manager instances the service backs up, and how a trigger names its own.

Every way in speaks the same words: ``target`` (one instance's name) or ``selector`` (labels, all
must match; ``{}`` is every instance). A trigger that names neither goes to the default instance
(``default`` when the single-instance settings define it, or the only instance there is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import InvalidRequest
from .triggers import FANOUT, Trigger

DEFAULT = "default"


@dataclass(frozen=True)
class Instance:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    url: str = ""  # shown to operators (GET /v1/instances, check); never a secret

    def matches(self, selector: Mapping[str, str]) -> bool:
        return all(self.labels.get(key) == value for key, value in selector.items())


class UnknownTarget(InvalidRequest):
    error_code = "VCFBACKUP_UNKNOWN_TARGET"


class Fleet:
    """The instances by name, in the order configured."""

    def __init__(self, instances: Iterable[Instance], default: str | None = None) -> None:
        self.instances: dict[str, Instance] = {i.name: i for i in instances}
        if not self.instances:
            self.instances = {DEFAULT: Instance(DEFAULT)}
        names = list(self.instances)
        self.default = default if default in self.instances else (
            DEFAULT if DEFAULT in self.instances else (names[0] if len(names) == 1 else None))

    @classmethod
    def single(cls) -> Fleet:
        return cls([Instance(DEFAULT)])

    @property
    def names(self) -> list[str]:
        return list(self.instances)

    def known(self) -> str:
        return ", ".join(self.names)

    def select(self, selector: Mapping[str, str]) -> list[str]:
        """The instances whose labels carry every pair of ``selector`` (all of them for ``{}``)."""
        found = [i.name for i in self.instances.values() if i.matches(selector)]
        if not found:
            shown = ", ".join(f"{k}={v}" for k, v in selector.items())
            raise UnknownTarget(f"No instance matches the selector {{{shown}}}; known instances: {self.known()}.",
                                remediation="Use labels the fleet file gives its instances, or a target by name.")
        return found

    def check(self, name: str) -> str:
        if name not in self.instances:
            raise UnknownTarget(f"Unknown target {name!r}; known instances: {self.known()}.",
                                remediation="Name one of the known instances (GET /v1/instances lists them).")
        return name

    def route(self, trigger: Trigger) -> Trigger:
        """Resolve what ``trigger`` asked for into its instance (or fan-out targets); 400 if it names none."""
        if trigger.target is not None and trigger.selector is not None:
            raise InvalidRequest("Name either a target or a selector, not both.")
        if trigger.selector is not None:
            trigger.targets = self.select(trigger.selector)
            trigger.instance = FANOUT
        elif trigger.target is not None:
            trigger.instance = self.check(trigger.target)
        elif trigger.instance == DEFAULT and DEFAULT not in self.instances:
            if self.default is None:
                raise UnknownTarget(f"This service backs up several instances: name a target or a selector; "
                                    f"known instances: {self.known()}.",
                                    remediation='Add "target": "<instance>" or "selector": {} (every instance).')
            trigger.instance = self.default
        return trigger
