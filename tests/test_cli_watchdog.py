"""The stop watchdog: a stop that gets stuck still ends the process (`cli._force_exit`)."""

from __future__ import annotations

import threading

import pytest

from k8s_multicluster_mcp import cli


def test_a_stop_signal_arms_the_watchdog_and_raises_the_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    fired = threading.Event()
    monkeypatch.setattr(cli, "STOP_WATCHDOG", 0.01)
    monkeypatch.setattr(cli, "_force_exit", fired.set)
    with pytest.raises(KeyboardInterrupt):
        cli._interrupt(15, None)
    assert fired.wait(5), "the watchdog ends a stop that did not end by itself"
