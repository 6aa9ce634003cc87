"""Untrusted text made safe to show a model: one line, control characters escaped, clipped.

Object fields (names, images, labels, messages), API server error messages, kubeconfig entries and
the caller's own arguments all end up in answers. A newline in any of them could forge lines of an
answer ("0 of 4 clusters answered"), and a 100,000-character argument echoed back would flood the
context window, so everything rendered into text or echoed in an error goes through here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CELL_LIMIT = 160
"""Longest value shown in a table cell."""
LINE_LIMIT = 300
"""Longest error, note or message line."""
ECHO_LIMIT = 80
"""Longest piece of the caller's input echoed back in an error."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def one_line(value: object, limit: int = LINE_LIMIT) -> str:
    """`value` as one line of at most `limit` characters, control characters escaped."""
    text = str(value)
    # Every character `_UNSAFE` matches is non-printable, so a printable text (most cells) needs
    # no substitution: `isprintable` is one C pass, the regex a call per cell (tables of 100 rows).
    if not text.isprintable():
        text = _UNSAFE.sub(_escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """The caller's input quoted for an error message: `'abc'`, or clipped with its length."""
    text = str(value)
    if len(text) <= limit:
        return f"'{one_line(text, limit * 4)}'"
    return f"'{one_line(text[:limit], limit * 4)}…' ({len(text)} characters)"


def safe_lines(text: str, limit: int = 2000) -> str:
    """Multi-line output (logs, command output) kept as lines, each made safe with `one_line`."""
    return "\n".join(one_line(line, limit) for line in text.splitlines())


__all__ = ["CELL_LIMIT", "ECHO_LIMIT", "LINE_LIMIT", "one_line", "safe_lines", "shown"]


LIST_LIMIT = 25
"""Names listed before 'and N more'."""


def format_names(names: Sequence[str], limit: int = LIST_LIMIT) -> str:
    """A short, comma-separated list of names: 'a, b, c and 4 more'."""
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"{shown} and {more} more" if more > 0 else shown
