"""Region names and base URLs: where the API and the token endpoint live."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

from ._errors import ConfigurationError

__all__ = ["REGIONS", "is_loopback_host", "resolve_urls"]

#: Region name -> the domain behind `api.` and `login.` (genesys-api.md).
REGIONS: Mapping[str, str] = MappingProxyType(
    {
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
)


def is_loopback_host(host: str) -> bool:
    """Tell whether `host` names this machine (127.0.0.0/8, ::1 or localhost).

    Only the literal name localhost counts: a name such as api.localhost is
    resolved through DNS like any other, and a resolver may send it anywhere.
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _domain_of(region: str) -> str:
    """Return the domain for a region name or a bare domain such as mypurecloud.ie."""
    wanted = region.strip().lower()
    if wanted in REGIONS:
        return REGIONS[wanted]

    # Genesys' own tools also accept the domain itself, with or without "api.".
    bare = wanted.removeprefix("api.").removeprefix("login.")
    if bare in REGIONS.values():
        return bare

    names = ", ".join(REGIONS)
    raise ConfigurationError(f"Unknown region {region!r}; valid regions: {names}.")


def _check_url(url: str, what: str) -> str:
    """Return `url` without a trailing slash, or refuse it with the reason."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            f"{what} {url!r} is not an http(s) URL with a host, "
            "such as https://api.mypurecloud.com."
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"{what} {url!r} uses plain http: credentials and tokens would cross "
            "the network unencrypted, so http is only allowed for loopback hosts "
            "(127.0.0.1, ::1, localhost); use https."
        )

    # The client adds /api/v2/... itself; accept a base that already holds it.
    path = parts.path.rstrip("/").removesuffix("/api/v2")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _login_from_api(api_url: str) -> str:
    """Derive the login base URL from the API base URL."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("api."):
        return api_url.replace("//api.", "//login.", 1)

    # A local server (the simulator) answers both on one address.
    if is_loopback_host(host):
        return api_url
    raise ConfigurationError(
        f"Cannot derive the login URL from api_url {api_url!r} (its host does "
        "not start with 'api.'); pass login_url too."
    )


def resolve_urls(
    region: str | None, api_url: str | None, login_url: str | None
) -> tuple[str, str]:
    """Return the API and login base URLs, checked.

    Args:
        region: a region name ("eu-west-1", any case) or its domain
            ("mypurecloud.ie"); None when URLs are given instead.
        api_url: the API base URL, such as https://api.mypurecloud.ie; None
            when a region is given.
        login_url: the token endpoint's base URL; None derives it from
            `api_url` (api. -> login.) or from the region.

    Returns:
        (api_url, login_url) with no trailing slash.

    Raises:
        ConfigurationError: for an unknown region, neither or both of region and
            api_url, or a URL that is not https (plain http only on loopback).
    """
    if region and (api_url or login_url):
        raise ConfigurationError("Give either region or api_url/login_url, not both.")
    if region:
        domain = _domain_of(region)
        return f"https://api.{domain}", f"https://login.{domain}"
    if not api_url:
        raise ConfigurationError(
            "No region given: pass region (for example 'us-east-1') or api_url; "
            "there is no default region."
        )

    api = _check_url(api_url, "api_url")
    login = _check_url(login_url, "login_url") if login_url else _login_from_api(api)
    return api, login
