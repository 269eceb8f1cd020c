"""Turning view models into HTML: the Jinja2 environment (autoescaped) and its display filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from ..status import CANCELLABLE_STATUSES, TERMINAL_STATUSES, JobStatus

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MAX_JSON_CHARS = 200_000  # a page shows at most this much of one JSON value


def utc(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float | None) -> str:
    """A short human duration: 850 ms, 12.3 s, 4 min 05 s, 2 h 10 min, 3 d 4 h."""
    if seconds is None:
        return "—"
    s = max(0.0, float(seconds))
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    minutes, sec = divmod(int(s), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relative(ts: float | None, now: float) -> str:
    if ts is None:
        return "—"
    delta = now - ts
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(-delta)}"


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    if len(text) > MAX_JSON_CHARS:
        return text[:MAX_JSON_CHARS] + f"\n… ({len(text) - MAX_JSON_CHARS} more characters not shown)"
    return text


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def iso_param(ts: str | None) -> float | None:
    """An ISO-8601 time (as `periodic_schedules()` gives them) → epoch seconds."""
    if not ts:
        return None
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def make_environment(prefix: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=utc, span=span, relative=relative, pretty=pretty, percent=percent, number=number,
                       iso_ts=iso_param)
    env.globals.update(
        prefix=prefix,
        statuses=[s.value for s in JobStatus],
        terminal={s.value for s in TERMINAL_STATUSES},
        cancellable={s.value for s in CANCELLABLE_STATUSES},
        retryable={JobStatus.FAILED.value, JobStatus.CANCELLED.value},
    )
    return env
