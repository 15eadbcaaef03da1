"""Export Genesys Cloud CX conversation analytics at the API rate limit.

Chunked, retried, split when the server refuses, exactly once, resumable.
Start with `GenesysClient`; everything raised derives from `GenesysError`.
"""

from ._aggregates import AggregatesReport, export_aggregates, query_aggregates
from ._client import GenesysClient
from ._errors import (
    ApiError,
    AuthenticationError,
    ChunkTooSmallError,
    ConfigurationError,
    ExportError,
    GenesysError,
    IntervalTooLongError,
    JobFailedError,
    ManifestMismatchError,
    NetworkError,
    OutputError,
    PaginationCapError,
    PermissionDeniedError,
    QueryRejectedError,
    RateLimitedError,
    RequestTooLargeError,
    ServerError,
)
from ._export import (
    ExportOptions,
    ExportProgress,
    ExportReport,
    conversation_details,
    export_conversations,
)
from ._http import ClientStats, Requester, RetryPolicy
from ._jobs import ApiMode, JobOptions
from ._queries import ConversationFilters

__all__ = [
    "AggregatesReport",
    "ApiError",
    "ApiMode",
    "AuthenticationError",
    "ChunkTooSmallError",
    "ClientStats",
    "ConfigurationError",
    "ConversationFilters",
    "ExportError",
    "ExportOptions",
    "ExportProgress",
    "ExportReport",
    "GenesysClient",
    "GenesysError",
    "IntervalTooLongError",
    "JobFailedError",
    "JobOptions",
    "ManifestMismatchError",
    "NetworkError",
    "OutputError",
    "PaginationCapError",
    "PermissionDeniedError",
    "QueryRejectedError",
    "RateLimitedError",
    "RequestTooLargeError",
    "Requester",
    "RetryPolicy",
    "ServerError",
    "conversation_details",
    "export_aggregates",
    "export_conversations",
    "query_aggregates",
]
