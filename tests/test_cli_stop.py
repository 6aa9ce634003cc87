"""How `cli.main` tells a stop (SIGINT/SIGTERM) from a failure when it arrives wrapped."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from k8s_multicluster_mcp.cli import _only_interrupts

# Built in from Python 3.11; anyio's `exceptiongroup` backport before.
group: Any = (
    getattr(builtins, "BaseExceptionGroup", None) or pytest.importorskip("exceptiongroup").BaseExceptionGroup
)


@pytest.mark.parametrize(
    ("error", "stop"),
    [
        (KeyboardInterrupt(), True),
        (group("tasks", [KeyboardInterrupt()]), True),
        (group("outer", [group("inner", [KeyboardInterrupt()]), KeyboardInterrupt()]), True),
        (group("tasks", [KeyboardInterrupt(), RuntimeError("boom")]), False),
        (RuntimeError("boom"), False),
        (SystemExit(2), False),
    ],
)
def test_a_stop_is_a_keyboard_interrupt_alone_or_wrapped_only_with_others(
    error: BaseException, stop: bool
) -> None:
    assert _only_interrupts(error) is stop
