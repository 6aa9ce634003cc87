"""What every answer for a model is made of: per-cluster provenance, text tables, "N more".

Every list answer starts with one line saying how many clusters answered, from where and how old
the data is, followed by a line per cluster that did not answer and why.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from k8s_multicluster_mcp.common.errors import ClusterStatus
from k8s_multicluster_mcp.common.text import CELL_LIMIT, LINE_LIMIT, format_names, one_line
from k8s_multicluster_mcp.query.results import ClusterReport


class ClusterOut(BaseModel):
    """Provenance of one cluster's part of an answer."""

    context: str
    status: ClusterStatus
    source: Literal["live", "cache"] | None = None
    as_of: datetime | None = None
    age_seconds: float | None = None
    count: int = 0
    error: str | None = None
    note: str | None = None
    also: list[str] | None = None
    """Other contexts asked that reach this same cluster: counted once, under this context."""

    @classmethod
    def of(cls, report: ClusterReport, now: datetime) -> ClusterOut:
        return cls(
            context=report.context,
            status=report.status,
            source=report.source,
            as_of=report.as_of,
            age_seconds=round((now - report.as_of).total_seconds(), 1) if report.as_of else None,
            count=report.count,
            error=report.error,
            note=report.note,
            also=list(report.also) or None,
        )


def provenance(clusters: Sequence[ClusterReport], now: datetime) -> list[str]:
    """The header lines: '3 of 4 clusters answered (live, data ≤2s old)', then the failures.

    Clusters that failed the same way share one line, so a fleet of viewers forbidden from the
    same thing costs one line, not one per cluster.
    """
    ok = [c for c in clusters if c.status == "ok"]
    sources = sorted({c.source for c in ok if c.source})
    oldest = max(((now - c.as_of).total_seconds() for c in ok if c.as_of), default=0.0)
    detail = f" ({'/'.join(sources)}, data ≤{seconds(oldest)} old)" if ok else ""
    lines = [f"{len(ok)} of {len(clusters)} cluster{'s' if len(clusters) != 1 else ''} answered{detail}"]
    failures: dict[tuple[str, str], list[str]] = {}
    for c in clusters:
        if c.status != "ok":
            failures.setdefault((c.status, c.error or "no reason given"), []).append(c.context)
    notes: dict[str, list[str]] = {}
    for c in ok:
        if c.note:
            notes.setdefault(c.note, []).append(c.context)
    for (status, error), names in failures.items():
        lines.append(one_line(f"  {format_names(names, 8)}: {status} — {error}", 2 * LINE_LIMIT))
    for note, names in notes.items():
        lines.append(one_line(f"  {format_names(names, 8)}: {note}", 2 * LINE_LIMIT))
    shared = [f"{c.context} (also {format_names(list(c.also), 3)})" for c in clusters if c.also]
    if shared:
        same = "; ".join(shared[:8]) + ("; …" if len(shared) > 8 else "")
        lines.append(one_line(f"  same cluster, counted once: {same}", 2 * LINE_LIMIT))
    return lines


def seconds(value: float) -> str:
    """An age in seconds, or minutes from two minutes on: `45s`, `7m`."""
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.0f}m"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain, left-aligned text table (two spaces between columns).

    Every cell is made one line and clipped: a value from a cluster can never forge a row.
    """
    # Column by column, the whole table's text tested at once and one format per row: a table
    # of 1,000 rows is one answer's bulk, and a Python step per cell was most of rendering it.
    widths = [max(map(len, column)) for column in zip(headers, *rows, strict=True)]
    cells = rows
    if max(widths) > CELL_LIMIT or not "".join(itertools.chain.from_iterable(rows)).isprintable():
        cells = [[one_line(c, CELL_LIMIT) for c in row] for row in rows]
        widths = [max(map(len, column)) for column in zip(headers, *cells, strict=True)]
    # %-formatting: about half the time of `str.format` a row; the cells are its arguments, never
    # its format, so a "%" in one is only text.
    line = "  ".join([*(f"%-{w}s" for w in widths[:-1]), "%s"])
    return "\n".join((line % tuple(row)).rstrip() for row in (headers, *cells))


NARROW = "raise `limit` or narrow the query."


def more_line(
    hidden: Counter[str],
    total_more: int,
    exact: bool = True,
    hint: str = "raise `limit` or narrow the query.",
) -> str:
    """'… 70 more not shown (a: 50, b: 20); raise `limit` or narrow the query.'"""
    by_cluster = ", ".join(f"{ctx}: {n}" for ctx, n in hidden.most_common(8))
    if len(hidden) > 8:
        by_cluster += ", …"
    count = f"{total_more}" if exact else f"at least {total_more}"
    where = f" ({by_cluster})" if by_cluster else ""
    return f"… {count} more not shown{where}; {hint}"
