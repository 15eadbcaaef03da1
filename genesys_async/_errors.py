"""The one exception tree of genesys-async.

Everything the library raises derives from `GenesysError`::

    GenesysError
    ├── ConfigurationError (also a ValueError)   bad region, URL, credentials
    ├── ApiError                                  an HTTP error reply
    │   ├── AuthenticationError                   token refused, or 401 twice
    │   ├── PermissionDeniedError                 403: the role lacks .permission
    │   ├── RateLimitedError                      429 still after retries
    │   ├── ServerError                           5xx or malformed 2xx after retries
    │   ├── RequestTooLargeError                  413, .max_bytes
    │   └── QueryRejectedError                    400 and other non-retried 4xx
    │       ├── PaginationCapError                paging cap reached, .limit
    │       └── IntervalTooLongError              interval too long, .max_days
    ├── NetworkError                              connection failure or timeout
    └── ExportError                               the export engine gave up
        ├── ChunkTooSmallError                    a refused chunk cannot split
        ├── ManifestMismatchError                 resume manifest disagrees
        ├── OutputError                           the output cannot be written
        └── JobFailedError                        a details job failed for good

Every `str()` is one sentence for a human. None ever holds a client secret or an
access token: the HTTP layer redacts them from server text before building one.
"""

from __future__ import annotations

import re

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ChunkTooSmallError",
    "ConfigurationError",
    "ExportError",
    "GenesysError",
    "IntervalTooLongError",
    "JobFailedError",
    "ManifestMismatchError",
    "NetworkError",
    "OutputError",
    "PaginationCapError",
    "PermissionDeniedError",
    "QueryRejectedError",
    "RateLimitedError",
    "RequestTooLargeError",
    "ServerError",
]

# Server messages quote limits as "100000", "10,000" or "100.000" depending on
# the year and the locale of whoever wrote them.
_NUMBER = r"(\d[\d,.\u202f ]*\d|\d)"
_PAGINATION_RE = re.compile(
    r"pagination\s+may\s+not\s+exceed\s+" + _NUMBER, re.IGNORECASE
)
_INTERVAL_RE = re.compile(
    r"interval\b.*?\bexceed(?:s|ed)?\s+(?:the\s+)?(?:maximum\s+of\s+)?"
    + _NUMBER
    + r"\s*days?",
    re.IGNORECASE | re.DOTALL,
)
_MAX_BYTES_RE = re.compile(r"maximum\s+bytes\s*:?\s*" + _NUMBER, re.IGNORECASE)
_PERMISSION_RE = re.compile(r"\b([A-Za-z]+:[A-Za-z]+:[A-Za-z]+)\b")
# How a details job says its chunk holds more results than a job may return.
_TOO_MANY = re.compile(
    r"\b(exceed\w*|too\s+many|maximum|limit)\b.*\b(results?|conversations?|records?)\b"
    r"|\b(results?|conversations?|records?)\b.*\b(exceed\w*|too\s+many)\b",
    re.IGNORECASE | re.DOTALL,
)


def parse_number(text: str) -> int | None:
    """Return the integer written in `text` with any thousands separators.

    Args:
        text: digits, possibly grouped with commas, dots or spaces.

    Returns:
        The number, or None when `text` holds no digit.
    """
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None


def _search_number(pattern: re.Pattern[str], message: str) -> int | None:
    match = pattern.search(message)
    return parse_number(match.group(1)) if match else None


def is_pagination_cap(message: str) -> bool:
    """Tell whether a 400 message is the "Pagination may not exceed N" refusal."""
    return _PAGINATION_RE.search(message) is not None


def is_interval_too_long(message: str) -> bool:
    """Tell whether a 400 message refuses the query's interval as too long."""
    return _INTERVAL_RE.search(message) is not None


class GenesysError(Exception):
    """Base of every error genesys-async raises."""


class ConfigurationError(GenesysError, ValueError):
    """The client cannot be built: bad region, URL, scheme or missing credentials."""


class ApiError(GenesysError):
    """Genesys Cloud answered with an HTTP error.

    Args:
        status: the HTTP status code.
        message: the server's message (or a description when it sent none).
        code: the server's error code such as "bad.request"; None when absent.
        context_id: the server's contextId for support tickets; None when absent.
        interval: the ISO-8601 interval of the query; None when not a query.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        context_id: str | None = None,
        interval: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.context_id = context_id
        self.interval = interval
        super().__init__(self._describe())

    def _detail(self) -> str:
        """Return an extra clause that a subclass adds to the sentence."""
        return ""

    def _describe(self) -> str:
        head = f"HTTP {self.status}"
        if self.code:
            head += f" {self.code}"
        text = " ".join(self.message.split()) or "no message"
        parts = [f"{head}: {text.rstrip('.')}"]
        detail = self._detail()
        if detail:
            parts.append(detail)
        if self.interval:
            parts.append(f"interval {self.interval}")
        if self.context_id:
            parts.append(f"contextId {self.context_id}")
        return "; ".join(parts) + "."


class AuthenticationError(ApiError):
    """The token grant was refused, or an API call met 401 even with a new token."""


class PermissionDeniedError(ApiError):
    """403: the OAuth client's role lacks a permission.

    Args:
        permission: the permission the role lacks, such as
            "analytics:conversationDetail:view"; None parses it from the message,
            and stays None when the message names none.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        context_id: str | None = None,
        interval: str | None = None,
        permission: str | None = None,
    ) -> None:
        if permission is None:
            match = _PERMISSION_RE.search(message)
            permission = match.group(1) if match else None
        self.permission = permission
        super().__init__(
            status, message, code=code, context_id=context_id, interval=interval
        )

    def _detail(self) -> str:
        if self.permission is None:
            return ""
        return f"the OAuth client's role needs the permission {self.permission}"


class RateLimitedError(ApiError):
    """429 still after every retry the policy allows."""


class ServerError(ApiError):
    """5xx, or a 2xx whose body is not the JSON promised, still after retries."""


class RequestTooLargeError(ApiError):
    """413: the request body is over the server's size limit.

    Args:
        max_bytes: the limit in bytes; None parses it from the message
            ("Maximum bytes: 512000"), and stays None when it is not there.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        context_id: str | None = None,
        interval: str | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if max_bytes is None:
            max_bytes = _search_number(_MAX_BYTES_RE, message)
        self.max_bytes = max_bytes
        super().__init__(
            status, message, code=code, context_id=context_id, interval=interval
        )


class QueryRejectedError(ApiError):
    """400 or another 4xx that no retry can fix: the query itself was refused."""


class PaginationCapError(QueryRejectedError):
    """400: the results of the interval exceed what paging can reach.

    Args:
        limit: the number of results paging can reach; None parses it from
            the message, and stays None when it is not there.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        context_id: str | None = None,
        interval: str | None = None,
        limit: int | None = None,
    ) -> None:
        if limit is None:
            limit = _search_number(_PAGINATION_RE, message)
        self.limit = limit
        super().__init__(
            status, message, code=code, context_id=context_id, interval=interval
        )


class IntervalTooLongError(QueryRejectedError):
    """400: the query's interval is longer than the server accepts.

    Args:
        max_days: the longest interval accepted, in days; None parses it from
            the message, and stays None when it is not there.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        context_id: str | None = None,
        interval: str | None = None,
        max_days: int | None = None,
    ) -> None:
        if max_days is None:
            max_days = _search_number(_INTERVAL_RE, message)
        self.max_days = max_days
        super().__init__(
            status, message, code=code, context_id=context_id, interval=interval
        )


class NetworkError(GenesysError):
    """The connection failed or timed out, still after retries.

    Args:
        message: what went wrong, for a human.
        interval: the ISO-8601 interval of the query; None when not a query.
    """

    def __init__(self, message: str, *, interval: str | None = None) -> None:
        self.message = message
        self.interval = interval
        text = message.rstrip(".")
        if interval:
            text += f"; interval {interval}"
        super().__init__(text + ".")


class ExportError(GenesysError):
    """The export engine could not finish."""


class ChunkTooSmallError(ExportError):
    """The server refused a chunk that cannot be cut any further.

    Args:
        interval: the ISO-8601 interval of the chunk.
        cause: the refusal that would have asked for a split.
    """

    def __init__(self, interval: str, cause: GenesysError) -> None:
        self.interval = interval
        self.cause = cause
        super().__init__(
            f"Chunk {interval} was refused and is too small to split: {cause}"
        )


class ManifestMismatchError(ExportError):
    """The manifest beside the output records a different export.

    Args:
        path: the manifest's path.
        differences: one human phrase per differing setting.
    """

    def __init__(self, path: str, differences: list[str]) -> None:
        self.path = path
        self.differences = list(differences)
        listed = "; ".join(differences) or "unknown differences"
        super().__init__(
            f"Manifest {path} belongs to a different export ({listed}); "
            "rerun with the same settings, or with --restart to start over."
        )


class OutputError(ExportError):
    """The output cannot be written.

    Args:
        path: the output path.
        reason: why, for a human.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Cannot write {path}: {reason.rstrip('.')}.")


class JobFailedError(ExportError):
    """A details job ended FAILED, EXPIRED or CANCELLED, after every resubmit.

    Args:
        interval: the ISO-8601 interval of the job's chunk.
        state: the job's last state (LOST when its results vanished, TIMEOUT
            when it outlasted the client's longest wait).
        message: the server's errorMessage; None when it gave none.
        attempts: how many times the job was submitted.
    """

    def __init__(
        self, interval: str, state: str, message: str | None, attempts: int = 1
    ) -> None:
        self.interval = interval
        self.state = state
        self.message = message
        self.attempts = attempts
        why = f": {message.rstrip('.')}" if message else ""
        tries = "once" if attempts == 1 else f"{attempts} times"
        super().__init__(
            f"The details job for {interval} ended {state}{why} (submitted {tries})."
        )

    @property
    def too_many_results(self) -> bool:
        """Whether the job failed because the chunk holds too many results."""
        return self.state == "FAILED" and bool(
            self.message and _TOO_MANY.search(self.message)
        )
