"""Deadlines cut a blocked read and kill a credential plugin from outside the blocked thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ConfigNode

from k8s_multicluster_mcp.kube import deadlines, execplugin


class Conn:
    """What the pools hand a deadline: an object with the socket in `.sock`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def blocked_read(deadline_seconds: float | None) -> tuple[bytes | Exception, deadlines.Deadline | None]:
    ours, theirs = socket.socketpair()
    outcome: list[bytes | Exception] = []
    holder: list[deadlines.Deadline] = []

    def read() -> None:
        try:
            if deadline_seconds is None:
                outcome.append(ours.recv(1))
                return
            with deadlines.deadline(deadline_seconds) as item:
                holder.append(item)
                item.own_connection(Conn(ours))
                outcome.append(ours.recv(1))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    theirs.close()
    ours.close()
    assert outcome, "the read was still blocked"
    return outcome[0], holder[0] if holder else None


def test_a_read_that_would_block_forever_ends_when_its_deadline_passes() -> None:
    result, item = blocked_read(0.2)
    assert result == b"", "the socket was shut down under the reader"
    assert item is not None and item.expired


def test_cancel_all_cuts_running_deadlines_now() -> None:
    ours, theirs = socket.socketpair()
    started = threading.Event()
    outcome: list[bytes] = []

    def read() -> None:
        with deadlines.deadline(3600) as item:
            item.own_connection(Conn(ours))
            started.set()
            outcome.append(ours.recv(1))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    started.wait(5)
    deadlines.cancel_all()
    thread.join(5)
    assert outcome == [b""]
    ours.close()
    theirs.close()


def test_a_connection_released_before_the_deadline_passes_is_left_alone() -> None:
    ours, theirs = socket.socketpair()
    conn = Conn(ours)
    with deadlines.deadline(0.05) as item:
        item.own_connection(conn)
    time.sleep(0.2)  # the deadline's moment passes after the operation ended
    theirs.sendall(b"x")
    assert ours.recv(1) == b"x", "a pooled connection reused later must not be cut"
    ours.close()
    theirs.close()


def provider(command: str, tmp_path: Path) -> Any:
    script = tmp_path / "plugin"
    script.write_text(f"#!/bin/sh\n{command}\n")
    script.chmod(0o755)
    config = ConfigNode(
        "exec", {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(script)}
    )
    return execplugin.provider_class()(config, str(tmp_path))


def running(marker: str) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    return True
            except OSError:
                continue
    return False


def test_a_hung_plugin_is_killed_with_its_children_when_the_deadline_passes(tmp_path: Path) -> None:
    plugin = provider("sleep 6101 &\nsleep 6101", tmp_path)
    with (
        deadlines.deadline(0.5),
        pytest.raises(ConfigException, match=r"did not finish within 0\.[45]\d*s; killed"),
    ):
        plugin.run()
    deadline = time.monotonic() + 3
    while running("sleep 6101") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running("sleep 6101")


def test_kill_all_ends_a_plugin_running_on_another_thread(tmp_path: Path) -> None:
    plugin = provider("sleep 6102", tmp_path)
    errors: list[Exception] = []

    def run() -> None:
        try:
            with deadlines.deadline(3600):
                plugin.run()
        except ConfigException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not running("sleep 6102") and time.monotonic() < deadline:
        time.sleep(0.05)
    execplugin.kill_all()
    thread.join(5)
    assert not thread.is_alive()
    assert errors and "process returned" in str(errors[0])


def test_a_plugin_reads_no_stdin_and_its_output_is_used(tmp_path: Path) -> None:
    """stdin is /dev/null: in stdio mode the server's stdin is the MCP protocol stream."""
    plugin = provider(
        'input=$(cat)\necho "{\\"apiVersion\\": \\"client.authentication.k8s.io/v1beta1\\", '
        '\\"kind\\": \\"ExecCredential\\", \\"status\\": {\\"token\\": \\"t-${#input}\\"}}"',
        tmp_path,
    )
    with deadlines.deadline(10):
        assert plugin.run() == {"token": "t-0"}


def test_a_failing_plugin_reports_its_stderr(tmp_path: Path) -> None:
    plugin = provider("echo 'error: SSO session expired' >&2\nexit 3", tmp_path)
    with (
        deadlines.deadline(10),
        pytest.raises(ConfigException, match=r"returned 3\. error: SSO session expired"),
    ):
        plugin.run()
