"""The exception tree: classes, parsed limits, sentences, status translation."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from genesys_async._errors import (
    ApiError,
    AuthenticationError,
    ChunkTooSmallError,
    ConfigurationError,
    ExportError,
    GenesysError,
    IntervalTooLongError,
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
from genesys_async._http import Reply, parse_retry_after, translate_status

DETAILS = "/api/v2/analytics/conversations/details/query"
AGGREGATES = "/api/v2/analytics/conversations/aggregates/query"
PAGINATION = "Pagination may not exceed 100000 results."
SEVEN_DAYS = (
    "You must specify a search interval as part of your query "
    "that does not exceed 7 days"
)


def reply(status: int, body: object = None, **headers: str) -> Reply:
    raw = orjson.dumps(body) if body is not None else b""
    return Reply(status, CIMultiDictProxy(CIMultiDict(headers)), raw)


def error_body(message: str, code: str = "bad.request") -> dict[str, str]:
    return {"message": message, "code": code, "contextId": "ctx-42"}


def test_the_tree_has_the_documented_parents() -> None:
    """Each class sits under the parent the module docstring draws."""
    expected = {
        ConfigurationError: (GenesysError, ValueError),
        ApiError: (GenesysError,),
        AuthenticationError: (ApiError,),
        PermissionDeniedError: (ApiError,),
        RateLimitedError: (ApiError,),
        ServerError: (ApiError,),
        RequestTooLargeError: (ApiError,),
        QueryRejectedError: (ApiError,),
        PaginationCapError: (QueryRejectedError,),
        IntervalTooLongError: (QueryRejectedError,),
        NetworkError: (GenesysError,),
        ExportError: (GenesysError,),
        ChunkTooSmallError: (ExportError,),
        ManifestMismatchError: (ExportError,),
        OutputError: (ExportError,),
    }

    actual = {cls: cls.__bases__ for cls in expected}

    assert expected == actual


@pytest.mark.parametrize(
    ("message", "limit"),
    [
        ("Pagination may not exceed 100000 results.", 100_000),
        ("Pagination may not exceed 10,000 results.", 10_000),
        ("pagination may not exceed 400 results", 400),
    ],
)
def test_pagination_cap_parses_the_limit_in_any_grouping(
    message: str, limit: int
) -> None:
    """The limit is read whether or not the server groups its digits."""
    error = PaginationCapError(400, message)

    assert limit == error.limit


@pytest.mark.parametrize(
    ("message", "days"),
    [
        (SEVEN_DAYS, 7),
        (SEVEN_DAYS.replace("7", "31"), 31),
        ("The interval exceeds the maximum of 90 days.", 90),
    ],
)
def test_interval_too_long_parses_the_days(message: str, days: int) -> None:
    """Both the 7-day and the 31-day wording give their number of days."""
    error = IntervalTooLongError(400, message)

    assert days == error.max_days


def test_request_too_large_parses_the_byte_limit() -> None:
    """The 413 message names the limit in bytes."""
    message = "The request is over the size limit. Maximum bytes: 512000"

    error = RequestTooLargeError(413, message, code="request.entity.too.large")

    assert error.max_bytes == 512_000


def test_limits_are_none_when_the_message_names_none() -> None:
    """An unparseable message leaves the limit unknown rather than guessed."""
    actual = (
        PaginationCapError(400, "too many").limit,
        IntervalTooLongError(400, "too long").max_days,
        RequestTooLargeError(413, "too big").max_bytes,
        PermissionDeniedError(403, "no").permission,
    )

    assert actual == (None, None, None, None)


def test_api_error_sentence_names_status_code_message_interval_and_context() -> None:
    """A human reads everything known about the failure on one line."""
    error = QueryRejectedError(
        400,
        "Bad field\nname",
        code="bad.request",
        context_id="ctx-1",
        interval="a/b",
    )

    expected = "HTTP 400 bad.request: Bad field name; interval a/b; contextId ctx-1."
    assert expected == str(error)


def test_permission_denied_sentence_names_the_permission() -> None:
    """A 403 tells which permission the role lacks."""
    error = PermissionDeniedError(
        403, "Unauthorized", permission="analytics:conversationDetail:view"
    )

    assert "analytics:conversationDetail:view" in str(error)


def test_network_error_keeps_its_interval() -> None:
    """A dropped connection names the chunk it was fetching."""
    error = NetworkError("POST /x lost its connection", interval="a/b")

    assert (
        error.interval,
        str(error),
    ) == ("a/b", "POST /x lost its connection; interval a/b.")


def test_engine_errors_carry_what_they_are_about() -> None:
    """Chunk, manifest and output errors keep their subject and read as sentences."""
    cause = PaginationCapError(400, PAGINATION)
    chunk = ChunkTooSmallError("a/b", cause)
    manifest = ManifestMismatchError("out.manifest.jsonl", ["start differs"])
    output = OutputError("out.ndjson", "disk full")

    actual = (
        chunk.interval,
        chunk.cause,
        manifest.differences,
        output.path,
        str(output),
    )

    expected = (
        "a/b",
        cause,
        ["start differs"],
        "out.ndjson",
        "Cannot write out.ndjson: disk full.",
    )
    assert expected == actual
    assert "a/b" in str(chunk)
    assert "Pagination" in str(chunk)
    assert "start differs" in str(manifest)


@pytest.mark.parametrize(
    ("status", "body", "path", "expected"),
    [
        (400, error_body("Bad filter"), DETAILS, QueryRejectedError),
        (400, error_body(PAGINATION), DETAILS, PaginationCapError),
        (400, error_body(SEVEN_DAYS), DETAILS, IntervalTooLongError),
        (
            401,
            error_body("Invalid token", "bad.credentials"),
            DETAILS,
            AuthenticationError,
        ),
        (
            403,
            error_body("Denied", "missing.permissions"),
            DETAILS,
            PermissionDeniedError,
        ),
        (404, error_body("Not found", "not.found"), DETAILS, QueryRejectedError),
        (413, error_body("Maximum bytes: 512000"), DETAILS, RequestTooLargeError),
        (429, error_body("Rate limit", "too.many.requests"), DETAILS, RateLimitedError),
        (500, error_body("Boom", "internal.server.error"), DETAILS, ServerError),
        (501, error_body("No", "not.implemented"), DETAILS, ServerError),
        (502, None, DETAILS, ServerError),
        (503, error_body("Down", "service.unavailable"), DETAILS, ServerError),
        (504, error_body("Slow", "request.timeout"), DETAILS, ServerError),
        (
            400,
            {"error": "invalid_client", "error_description": "bad"},
            "/oauth/token",
            AuthenticationError,
        ),
        (401, {"error": "invalid_client"}, "/oauth/token", AuthenticationError),
    ],
)
def test_each_status_translates_to_its_class(
    status: int, body: object, path: str, expected: type[ApiError]
) -> None:
    """The status, the message and the path pick exactly one class."""
    error = translate_status(reply(status, body), path=path)

    assert expected is type(error)


@pytest.mark.parametrize(
    "status", [*range(300, 309), *range(400, 452), *range(500, 512)]
)
def test_every_error_status_has_a_specific_translation(status: int) -> None:
    """No status falls through to the bare ApiError base."""
    error = translate_status(reply(status, error_body("x")), path=DETAILS)

    assert (status, True) == (error.status, type(error) is not ApiError)


def test_translation_keeps_code_message_context_and_interval() -> None:
    """The server's ErrorBody fields land on the error."""
    error = translate_status(
        reply(400, error_body("Bad filter")), path=DETAILS, interval="a/b"
    )

    expected = (400, "bad.request", "Bad filter", "ctx-42", "a/b")
    actual = (error.status, error.code, error.message, error.context_id, error.interval)
    assert expected == actual


def test_oauth_refusal_uses_the_error_description() -> None:
    """A refused grant says why in the server's words."""
    body = {
        "error": "invalid_client",
        "description": "d",
        "error_description": "client not found",
    }

    error = translate_status(reply(401, body), path="/oauth/token")

    assert (error.message, error.code) == ("client not found", "invalid_client")


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        (DETAILS, "analytics:conversationDetail:view"),
        (
            "/api/v2/analytics/conversations/details/jobs",
            "analytics:conversationDetail:view",
        ),
        (AGGREGATES, "analytics:conversationAggregate:view"),
        ("/api/v2/users", None),
    ],
)
def test_forbidden_names_the_permission_the_path_needs(
    path: str, permission: str | None
) -> None:
    """Details and jobs need the detail permission, aggregates the aggregate one."""
    error = translate_status(
        reply(403, error_body("Forbidden", "forbidden")), path=path
    )

    assert isinstance(error, PermissionDeniedError)
    assert permission == error.permission


def test_forbidden_prefers_the_permission_the_server_names() -> None:
    """A permission quoted in the message wins over the path's guess."""
    body = error_body(
        "Missing analytics:conversationAggregate:view", "missing.permissions"
    )

    error = translate_status(reply(403, body), path=DETAILS)

    assert isinstance(error, PermissionDeniedError)
    assert error.permission == "analytics:conversationAggregate:view"


def test_html_error_bodies_are_described_not_quoted() -> None:
    """A proxy's HTML page does not end up in the error sentence."""
    raw = Reply(
        502, CIMultiDictProxy(CIMultiDict()), b"<html><body>Bad gateway</body></html>"
    )

    error = translate_status(raw, path=DETAILS)

    assert error.message == "the reply was HTML, not a Genesys error body"


def test_translation_redacts_secrets_from_server_text() -> None:
    """Whatever the server echoes, the redactor removes."""
    body = error_body("client s3cret rejected")

    error = translate_status(
        reply(400, body),
        path=DETAILS,
        redact=lambda text: text.replace("s3cret", "***"),
    )

    assert error.message == "client *** rejected"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("2.5", 2.5),
        ("Tue, 01 Sep 2026 12:00:30 GMT", 30.0),
        ("Tue, 01 Sep 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    value: str | None, seconds: float | None
) -> None:
    """Seconds are taken as they are, a date as the time left until it."""
    now = datetime(2026, 9, 1, 12, 0, 0, tzinfo=timezone.utc)

    assert seconds == parse_retry_after(value, now=now)
