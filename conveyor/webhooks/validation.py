"""What `enqueue(webhook=…)` accepts: `{"url", "token"?, "jobId"?}`, with an optional host allow-list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidJobOptions

MAX_URL_LENGTH = 2048
MAX_TOKEN_LENGTH = 4096
MAX_JOB_ID_LENGTH = 512
FIELDS = ("url", "token", "jobId")


def _refuse(message: str) -> InvalidJobOptions:
    return InvalidJobOptions(f"webhook {message}", field="webhook")


def host_allowed(url: str, allowed_hosts: tuple[str, ...] | None) -> bool:
    """No list allows every host. Entries are host names (`hooks.example.com`), `*.example.com`
    for any subdomain, or `host:port` for one port; matching ignores case."""
    if not allowed_hosts:
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return False
    for entry in (e.strip().lower() for e in allowed_hosts):
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif ":" in entry and not entry.startswith("["):
            name, _, entry_port = entry.rpartition(":")
            if host == name and str(port) == entry_port:
                return True
        elif host == entry.strip("[]"):
            return True
    return False


def _check_url(value: Any, allowed_hosts: tuple[str, ...] | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _refuse("url must be a non-empty string")
    url: str = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _refuse(f"url {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(f"url {url!r} must be an http:// or https:// URL with a host")
    if not host_allowed(url, allowed_hosts):
        raise _refuse(f"host {parts.hostname!r} is not in webhook_allowed_hosts")
    return url


def validate_webhook(value: Any, allowed_hosts: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """The normalized subscription, or `InvalidJobOptions(field="webhook")` naming what is wrong."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _refuse('must be an object {"url", "token", "jobId"}')
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise _refuse(f"has unknown field {unknown[0]!r} (allowed: url, token, jobId)")
    url = _check_url(value.get("url"), allowed_hosts)
    token = value.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH):
        raise _refuse(f"token must be a string of at most {MAX_TOKEN_LENGTH} characters")
    job_id = value.get("jobId")
    if job_id is not None and (
        isinstance(job_id, bool)
        or not isinstance(job_id, str | int)
        or (isinstance(job_id, str) and len(job_id) > MAX_JOB_ID_LENGTH)
        or (isinstance(job_id, int) and not -(2**63) <= job_id < 2**63)
    ):
        raise _refuse(f"jobId must be a string (at most {MAX_JOB_ID_LENGTH} characters) or a 64-bit integer")
    return {"url": url, "token": token or None, "jobId": job_id}
