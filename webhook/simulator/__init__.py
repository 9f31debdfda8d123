"""Embedded VMware Cloud Foundation SDDC Manager simulator.

A stand-alone Flask app that speaks the token, backup, task and
backup-configuration subset of the SDDC Manager API, with scriptable faults.
It imports nothing from the rest of the project on purpose: it is written
from the API reference alone, so it cannot share a misreading with our client.
"""

from webhook.simulator.app import create_simulator_app
from webhook.simulator.config import SimulatorConfig
from webhook.simulator.server import SimulatorServer, serve_forever
from webhook.simulator.state import SimulatorState

__all__ = [
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorState",
    "create_simulator_app",
    "serve_forever",
]
