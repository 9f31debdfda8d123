"""Settings of the embedded SDDC Manager simulator.

The simulator is a test double for the real appliance, so every knob here maps
to a behaviour a client must cope with (slow backups, failures, expiring
tokens, the two status spellings seen in the field).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OUTCOMES = ("SUCCESSFUL", "FAILED")
STATUS_STYLES = ("title", "upper")

_SPELLINGS = {
    "title": {"IN_PROGRESS": "In Progress", "SUCCESSFUL": "Successful", "FAILED": "Failed"},
    "upper": {"IN_PROGRESS": "IN_PROGRESS", "SUCCESSFUL": "SUCCESSFUL", "FAILED": "FAILED"},
}


@dataclass
class SimulatorConfig:
    """Behaviour of one simulated SDDC Manager.

    Attributes:
        username: The only account that may log in.
        password: Its password (never printed nor returned by /sim/state).
        backup_seconds: How long a backup stays in progress.
        outcome: Final state of new backups, "SUCCESSFUL" or "FAILED".
        token_ttl_seconds: Lifetime of access tokens (the appliance uses 1 h).
        status_style: "title" ("In Progress") or "upper" ("IN_PROGRESS"); both
            spellings occur in real task responses.
        configured: Whether a backup location and passphrase are set.
        refuse_concurrent: Reject a backup while another one runs.
        fqdn: FQDN reported for the SDDC Manager resource.
    """

    username: str = "admin@local"
    password: str = "VMware123!VMware123!"
    backup_seconds: float = 5.0
    outcome: str = "SUCCESSFUL"
    token_ttl_seconds: float = 3600
    status_style: str = "title"
    configured: bool = True
    refuse_concurrent: bool = False
    fqdn: str = "sddc-manager.vcf.sim"

    def __post_init__(self) -> None:
        """Reject values the simulator cannot act on, so typos fail loudly."""
        self.validate()

    def validate(self) -> None:
        """Raise ValueError when a field holds an unsupported value."""
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.status_style not in STATUS_STYLES:
            raise ValueError(
                f"status_style must be one of {STATUS_STYLES}, not {self.status_style!r}"
            )
        if self.backup_seconds < 0:
            raise ValueError("backup_seconds must be >= 0")
        if self.token_ttl_seconds < 0:
            raise ValueError("token_ttl_seconds must be >= 0")

    def public_dict(self) -> dict[str, Any]:
        """Return the settings without the password, camelCased like /sim/faults keys."""
        data = asdict(self)
        data.pop("password", None)
        return {_camel(key): value for key, value in data.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def spell_status(canonical: str, style: str) -> str:
    """Spell a canonical task status (IN_PROGRESS, ...) in the given style."""
    return _SPELLINGS[style].get(canonical, canonical)


def normalise_status(value: str) -> str:
    """Fold a status for comparison: "In Progress" and "IN_PROGRESS" match."""
    return value.strip().upper().replace(" ", "_")
