"""A fake Genesys Cloud: OAuth, analytics routes, limits, faults and ground truth.

It shares no code with the client package, so that two independent readings of the
API can catch each other's mistakes.
"""

from genesys_async.simulator._data import ConversationFacts, Dataset

__all__ = ["ConversationFacts", "Dataset"]
