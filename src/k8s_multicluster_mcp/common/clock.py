"""The one clock of answers, API timestamps, and how long ago something was in kubectl's words."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    """Now, in UTC: the one clock every age and "as of" in answers is measured against."""
    return datetime.now(timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """An API timestamp; the same text gives the same (shared) datetime object."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_time(value)


@functools.lru_cache(maxsize=1024)
def _parse_time(value: str) -> datetime | None:
    # Small on purpose: it shares the few timestamps one object repeats (a pod's conditions and
    # containers) without holding every timestamp ever seen.
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(seconds: float | None) -> str:
    """kubectl-style: 45s, 12m, 5h, 3d ('?' when unknown)."""
    if seconds is None:
        return "?"
    whole = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago `when` was, kubectl-style."""
    return duration(((now or utcnow()) - when).total_seconds() if when else None)
