"""`stdio_transport`: lines read from the event loop (a line over the limit is dropped and the next
one read), and the wire held apart from fd 0 and fd 1 while serving (stray output misses it)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from k8s_multicluster_mcp import stdio_transport
from k8s_multicluster_mcp.stdio_transport import LINE_LIMIT, _lines


def _read_all(data: bytes, chunk: int = 65536) -> list[str]:
    """What `_lines` yields for `data` arriving in chunks, then the end."""

    async def run() -> list[str]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)

        async def feed() -> None:
            for start in range(0, len(data), chunk):
                reader.feed_data(data[start : start + chunk])
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        lines = [line async for line in _lines(reader)]
        await feeding
        return lines

    return asyncio.run(run())


def test_lines_are_read_one_by_one_and_a_last_line_without_its_end_counts() -> None:
    assert _read_all(b'{"a": 1}\n{"b": 2}\n{"c": 3}', chunk=5) == ['{"a": 1}\n', '{"b": 2}\n', '{"c": 3}']


def test_a_line_up_to_the_limit_is_read_whole() -> None:
    line = b"x" * (LINE_LIMIT - 1) + b"\n"
    assert _read_all(line + b"next\n") == [line.decode(), "next\n"]


def test_a_line_over_the_limit_is_dropped_with_a_warning_and_the_next_is_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    long = b"y" * (3 * LINE_LIMIT) + b"\n"
    assert _read_all(b"first\n" + long + b"after\n") == ["first\n", "after\n"]
    assert f"a message of {len(long)} bytes on stdin was dropped" in caplog.text
    assert f"at most {LINE_LIMIT} bytes" in caplog.text
    # Over the limit at the very end, without a line end: dropped, and the reading ends.
    assert _read_all(b"first\n" + b"z" * (LINE_LIMIT + 10)) == ["first\n"]


def test_invalid_utf8_is_replaced_as_the_sdk_does() -> None:
    assert _read_all(b'{"a": "\xff"}\n') == ['{"a": "\ufffd"}\n']


def test_pipes_and_sockets_are_pollable_files_are_not(tmp_path: Path) -> None:
    read, write = os.pipe()
    left, right = socket.socketpair()
    with open(tmp_path / "f", "w") as regular:
        try:
            assert stdio_transport._pollable(read)
            assert stdio_transport._pollable(left.fileno())
            assert not stdio_transport._pollable(regular.fileno())
            assert not stdio_transport._pollable(999)
        finally:
            os.close(read)
            os.close(write)
            left.close()
            right.close()


WIRE = textwrap.dedent(
    """
    import os, subprocess, sys
    from k8s_multicluster_mcp.stdio_transport import _wire
    with _wire() as (wire_in, wire_out):
        os.write(1, b"stray print\\n")
        subprocess.run(["sh", "-c", "echo stray child; cat"], check=True)  # reads the null device
        os.set_blocking(wire_out, False)
        os.write(wire_out, os.read(wire_in, 100).upper())
    assert os.get_blocking(0) and os.get_blocking(1)
    os.write(1, b"restored\\n")
    """
)


def test_while_serving_fd_1_writes_to_stderr_fd_0_reads_nothing_and_both_come_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WIRE], input=b"request\n", capture_output=True, timeout=60, check=True
    )
    assert done.stdout == b"REQUEST\nrestored\n"
    assert b"stray print" in done.stderr
    assert b"stray child" in done.stderr
