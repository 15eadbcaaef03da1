"""A fake Genesys Cloud: OAuth, analytics routes, limits, faults and ground truth.

It shares no code with the client package, so that two independent readings of the
API can catch each other's mistakes.

    async with Simulator(SimulatorConfig(conversations=10_000)) as sim:
        ...  # sim.base_url, sim.client_id, sim.client_secret
"""

from genesys_async.simulator._app import create_app
from genesys_async.simulator._config import (
    AggregatesConfig,
    FaultConfig,
    JobsConfig,
    SimulatorConfig,
)
from genesys_async.simulator._data import ConversationFacts, Dataset
from genesys_async.simulator._server import Simulator

__all__ = [
    "AggregatesConfig",
    "ConversationFacts",
    "Dataset",
    "FaultConfig",
    "JobsConfig",
    "Simulator",
    "SimulatorConfig",
    "create_app",
]
