"""Regions and base URLs: names, domains, loopback-only plain http."""

from __future__ import annotations

import pytest

from genesys_async._errors import ConfigurationError
from genesys_async._regions import REGIONS, is_loopback_host, resolve_urls


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("us-east-1", ("https://api.mypurecloud.com", "https://login.mypurecloud.com")),
        ("EU-West-1", ("https://api.mypurecloud.ie", "https://login.mypurecloud.ie")),
        (
            "mypurecloud.de",
            ("https://api.mypurecloud.de", "https://login.mypurecloud.de"),
        ),
        (
            "api.usw2.pure.cloud",
            ("https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"),
        ),
        (
            "us-east-2",
            (
                "https://api.use2.us-gov-pure.cloud",
                "https://login.use2.us-gov-pure.cloud",
            ),
        ),
    ],
)
def test_region_names_and_domains_give_api_and_login_urls(
    region: str, expected: tuple[str, str]
) -> None:
    """A name in any case, or the region's domain, gives both hosts."""
    actual = resolve_urls(region, None, None)

    assert expected == actual


def test_the_table_is_the_one_of_genesys_api_md() -> None:
    """All eighteen regions, each with the domain behind its API host."""
    expected = {
        "us-east-1": "mypurecloud.com",
        "us-east-2": "use2.us-gov-pure.cloud",
        "us-west-2": "usw2.pure.cloud",
        "ca-central-1": "cac1.pure.cloud",
        "sa-east-1": "sae1.pure.cloud",
        "mx-central-1": "mxc1.pure.cloud",
        "eu-west-1": "mypurecloud.ie",
        "eu-west-2": "euw2.pure.cloud",
        "eu-central-1": "mypurecloud.de",
        "eu-central-2": "euc2.pure.cloud",
        "eusc-de-east-1": "edee1.eusc-pure.cloud",
        "me-central-1": "mec1.pure.cloud",
        "ap-south-1": "aps1.pure.cloud",
        "ap-northeast-1": "mypurecloud.jp",
        "ap-northeast-2": "apne2.pure.cloud",
        "ap-northeast-3": "apne3.pure.cloud",
        "ap-southeast-1": "apse1.pure.cloud",
        "ap-southeast-2": "mypurecloud.com.au",
    }

    assert expected == dict(REGIONS)


def test_unknown_region_lists_the_valid_names() -> None:
    """A typo is answered with the names to choose from."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_urls("us-east-9", None, None)

    assert "us-east-9" in str(caught.value)
    assert "eu-central-1" in str(caught.value)


def test_no_region_and_no_url_is_refused_rather_than_defaulted() -> None:
    """There is no silent us-east-1."""
    with pytest.raises(ConfigurationError, match="no default region"):
        resolve_urls(None, None, None)


def test_region_and_url_together_are_refused() -> None:
    """Two answers to one question are a mistake, not a preference."""
    with pytest.raises(ConfigurationError, match="not both"):
        resolve_urls("us-east-1", "https://api.mypurecloud.ie", None)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.mypurecloud.com",
        "http://10.0.0.5:8080",
        "http://example.test",
        "http://api.localhost:8080",
        "http://localhost.example.com",
    ],
)
def test_plain_http_to_a_remote_host_is_refused_with_the_reason(url: str) -> None:
    """Credentials never cross the network unencrypted."""
    with pytest.raises(ConfigurationError, match="unencrypted"):
        resolve_urls(None, url, None)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.3.4.5",
        "http://[::1]:9000",
        "http://localhost:1",
    ],
)
def test_plain_http_to_loopback_is_allowed_and_serves_login_too(url: str) -> None:
    """The simulator answers tokens and API calls on one local address."""
    expected = (url, url)

    actual = resolve_urls(None, url, None)

    assert expected == actual


def test_login_url_is_derived_from_an_api_host() -> None:
    """api. becomes login., and a trailing /api/v2 or slash is dropped."""
    expected = ("https://api.example.pure.cloud", "https://login.example.pure.cloud")

    actual = resolve_urls(None, "https://api.example.pure.cloud/api/v2/", None)

    assert expected == actual


def test_a_remote_api_url_without_api_prefix_needs_a_login_url() -> None:
    """Guessing a login host would send the secret to the wrong place."""
    with pytest.raises(ConfigurationError, match="login_url"):
        resolve_urls(None, "https://genesys.example.com", None)


def test_explicit_login_url_is_checked_too() -> None:
    """A plain-http login URL is refused even with an https API URL."""
    with pytest.raises(ConfigurationError, match="login_url"):
        resolve_urls(
            None, "https://api.mypurecloud.com", "http://login.mypurecloud.com"
        )


@pytest.mark.parametrize(
    "url", ["ftp://api.mypurecloud.com", "api.mypurecloud.com", "https://"]
)
def test_urls_without_http_scheme_or_host_are_refused(url: str) -> None:
    """Only http(s) URLs with a host are accepted."""
    with pytest.raises(ConfigurationError, match="not an http"):
        resolve_urls(None, url, None)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.8.9.10", True),
        ("LOCALHOST", True),
        ("10.0.0.1", False),
        ("api.local", False),
        ("api.localhost", False),
        ("localhost.", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, expected: bool) -> None:
    """Only this machine counts as loopback."""
    actual = is_loopback_host(host)

    assert expected == actual
