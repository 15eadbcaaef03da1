"""Every knob of the simulator, with its default.

Route modules that come later add their own config dataclass as a field of
`SimulatorConfig` with `field(default_factory=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

__all__ = [
    "AGGREGATE_PERMISSION",
    "DETAIL_PERMISSION",
    "FaultConfig",
    "JobsConfig",
    "SimulatorConfig",
]

DETAIL_PERMISSION = "analytics:conversationDetail:view"
AGGREGATE_PERMISSION = "analytics:conversationAggregate:view"

RetryAfterStyle = Literal["seconds", "http-date", "omit"]

# The transient server errors the real API answers; others would teach a
# client to retry what it must not.
FAULT_STATUSES = (500, 502, 503, 504)


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], not {value}")


def _positive(name: str, value: float | None) -> None:
    """Refuse a limit of zero or less (None, meaning no limit, is fine)."""
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive, not {value}")


@dataclass(frozen=True)
class FaultConfig:
    """Seeded faults on `/api/v2` routes; every rate is a probability per request.

    Args:
        error_rates: HTTP status (500, 502, 503, 504) -> probability of answering it
            with the real error body instead of serving the request.
        disconnect_rate: probability of closing the connection after reading the
            request, without any reply.
        html_error_rate: probability of a 502 with an HTML page (a proxy's error).
        truncated_json_rate: probability of a 200 whose JSON body is cut short.
        empty_body_rate: probability of a 200 with an empty body.
        latency_ms: base delay of every reply, ms.
        latency_per_record_ms: extra delay per conversation served, ms.
        latency_tail_probability: probability that a reply's delay is multiplied.
        latency_tail_multiplier: the multiplier of those slow replies.
        seed: seed of the fault generator, independent of the data seed.
        token_error_rate: probability that `POST /oauth/token` answers 503
            `temporarily_unavailable`, so a client's login retry can be tested;
            rolled on its own generator (seeded by `seed`), not with the above.

    Raises:
        ValueError: a status other than 500, 502, 503 or 504, a rate outside
            [0, 1], per-request rates summing over 1, or a negative latency.
    """

    error_rates: Mapping[int, float] = field(default_factory=dict)
    disconnect_rate: float = 0.0
    html_error_rate: float = 0.0
    truncated_json_rate: float = 0.0
    empty_body_rate: float = 0.0
    latency_ms: float = 0.0
    latency_per_record_ms: float = 0.0
    latency_tail_probability: float = 0.0
    latency_tail_multiplier: float = 10.0
    seed: int = 0
    token_error_rate: float = 0.0

    def __post_init__(self) -> None:
        for status, rate in self.error_rates.items():
            if status not in FAULT_STATUSES:
                raise ValueError(
                    f"error rate status must be one of {FAULT_STATUSES}, not {status}"
                )
            _probability(f"error rate of {status}", rate)
        rates = {
            "disconnect_rate": self.disconnect_rate,
            "html_error_rate": self.html_error_rate,
            "truncated_json_rate": self.truncated_json_rate,
            "empty_body_rate": self.empty_body_rate,
            "latency_tail_probability": self.latency_tail_probability,
            "token_error_rate": self.token_error_rate,
        }
        for name, rate in rates.items():
            _probability(name, rate)
        # One roll per request picks at most one of these, so they share [0, 1].
        total = sum(self.error_rates.values()) + sum(
            rates[name]
            for name in (
                "disconnect_rate",
                "html_error_rate",
                "truncated_json_rate",
                "empty_body_rate",
            )
        )
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"error, disconnect, html, truncated and empty rates sum to {total:g};"
                " at most 1"
            )
        for name, value in (
            ("latency_ms", self.latency_ms),
            ("latency_per_record_ms", self.latency_per_record_ms),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        _positive("latency_tail_multiplier", self.latency_tail_multiplier)


@dataclass(frozen=True)
class AggregatesConfig:
    """Limits of the aggregates route; each refusal is a 400 like the real API's.

    Args:
        max_interval_days: longest query interval, whole days; None disables it.
        max_buckets: most time buckets one query may produce; None disables it.
    """

    max_interval_days: int | None = 31
    max_buckets: int | None = 1000


@dataclass(frozen=True)
class JobsConfig:
    """The details jobs routes: timing, outcomes, limits and data availability.

    Args:
        queued_s: seconds a new job stays QUEUED (simulator clock).
        pending_s: seconds it then stays PENDING before its outcome; both 0
            means the outcome at once.
        fail_first: the first this many jobs submitted end FAILED.
        expire_first: the next this many jobs end EXPIRED.
        fail_rate: probability that any later job ends FAILED (seeded).
        expire_rate: probability that any later job ends EXPIRED (seeded).
        seed: seed of the outcome generator.
        results_ttl_s: seconds a FULFILLED job's results are kept before the
            job turns EXPIRED.
        max_page_size: largest results pageSize, and the default one.
        max_concurrent_jobs: jobs QUEUED or PENDING at once, of any client; a
            submit beyond it answers 429. None disables it.
        max_results: most conversations one job may hold; a job matching more
            ends FAILED with an errorMessage saying so. None disables it.
        availability: dataAvailabilityDate, an aware datetime; None means the
            simulated now minus `availability_lag_h`.
        availability_lag_h: hours the datalake lags the simulated now.
    """

    queued_s: float = 0.0
    pending_s: float = 0.0
    fail_first: int = 0
    expire_first: int = 0
    fail_rate: float = 0.0
    expire_rate: float = 0.0
    seed: int = 0
    results_ttl_s: float = 86_400.0
    max_page_size: int = 1000
    max_concurrent_jobs: int | None = None
    max_results: int | None = None
    availability: datetime | None = None
    availability_lag_h: float = 6.0


@dataclass(frozen=True)
class SimulatorConfig:
    """The simulated organisation, its limits and its faults.

    Args:
        seed: data seed; the same seed gives the same conversations.
        start: aware datetime, earliest conversationStart of the data.
        end: aware datetime, after the last conversationStart.
        conversations: number of conversations in [start, end).
        now: aware datetime, the simulated present (later conversations are
            ongoing); None means `end`.
        client_id: the one OAuth client accepted.
        client_secret: its secret.
        token_lifetime_s: `expires_in` of issued tokens, seconds.
        permissions: permissions of the client's role; a route needing another
            answers 403.
        max_interval_days: longest query interval, days; None disables the limit.
        pagination_cap: most results reachable by paging (pageNumber * pageSize);
            None disables it.
        max_page_size: largest pageSize accepted; None disables it.
        max_request_bytes: largest request body, bytes; None disables it.
        too_large_threshold: answer 413 for any query matching more than this
            many conversations; None (the default) disables it.
        rate_limit: requests allowed per token per `rate_limit_period_s`;
            None disables rate limiting.
        rate_limit_period_s: length of the rate-limit window, seconds.
        retry_after: how a 429 gives its delay in `Retry-After`: "seconds",
            "http-date", or "omit" the header (the message still says it).
        faults: the initial faults; change them at runtime with
            `Simulator.set_faults`.
        aggregates: limits of the aggregates query route.
        jobs: the details jobs routes.

    Raises:
        ValueError: a negative number of conversations, or a lifetime, limit,
            size or period of zero or less (a zero rate limit or period would
            divide by zero on every request).
    """

    seed: int = 1
    start: datetime = datetime(2026, 9, 1, tzinfo=timezone.utc)
    end: datetime = datetime(2026, 12, 1, tzinfo=timezone.utc)
    conversations: int = 100_000
    now: datetime | None = None
    client_id: str = "simulator-client"
    client_secret: str = field(default="simulator-secret", repr=False)
    token_lifetime_s: int = 86_400
    permissions: frozenset[str] = frozenset({DETAIL_PERMISSION, AGGREGATE_PERMISSION})
    max_interval_days: float | None = 7
    pagination_cap: int | None = 100_000
    max_page_size: int | None = 100
    max_request_bytes: int | None = 512_000
    too_large_threshold: int | None = None
    rate_limit: int | None = 300
    rate_limit_period_s: float = 60.0
    retry_after: RetryAfterStyle = "seconds"
    faults: FaultConfig = field(default_factory=FaultConfig)
    aggregates: AggregatesConfig = field(default_factory=AggregatesConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)

    def __post_init__(self) -> None:
        if self.conversations < 0:
            raise ValueError(
                f"conversations must not be negative, not {self.conversations}"
            )
        for name, value in (
            ("token_lifetime_s", self.token_lifetime_s),
            ("max_interval_days", self.max_interval_days),
            ("pagination_cap", self.pagination_cap),
            ("max_page_size", self.max_page_size),
            ("max_request_bytes", self.max_request_bytes),
            ("too_large_threshold", self.too_large_threshold),
            ("rate_limit", self.rate_limit),
            ("rate_limit_period_s", self.rate_limit_period_s),
        ):
            _positive(name, value)
