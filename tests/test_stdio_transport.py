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
import threading
from datetime import datetime, timezone
from pathlib import Path

import mcp_types
import pytest
from mcp.shared.message import SessionMessage

from k8s_multicluster_mcp.stdio_transport import (
    LINE_LIMIT,
    _is,
    _lines,
    _request_id,
    _streams,
    _TooLong,
    encoded,
)


def _read_all(data: bytes, chunk: int = 65536) -> list[str | _TooLong]:
    """What `_lines` yields for `data` arriving in chunks, then the end."""

    async def run() -> list[str | _TooLong]:
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
    long = (
        b'{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"x": "'
        + b"y" * (3 * LINE_LIMIT)
        + b'"}}\n'
    )
    assert _read_all(b"first\n" + long + b"after\n") == ["first\n", _TooLong(len(long), 7), "after\n"]
    assert f"a message of {len(long)} bytes on stdin was dropped" in caplog.text
    assert f"at most {LINE_LIMIT} bytes" in caplog.text
    # Over the limit at the very end, without a line end: dropped, and the reading ends.
    assert _read_all(b"first\n" + b"z" * (LINE_LIMIT + 10)) == ["first\n", _TooLong(LINE_LIMIT + 10, None)]


def test_a_dropped_requests_id_is_told_only_when_it_comes_before_its_params() -> None:
    assert _request_id(b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"a"') == 12
    assert _request_id(b'{"id": "r-1", "jsonrpc": "2.0", "params": {') == "r-1"
    assert _request_id(b'{"jsonrpc":"2.0","id":"a\\"b","params":{') == 'a"b'
    assert _request_id(b'{"method":"x","params":{"id":3,') is None, "an id inside params is not the request's"
    assert _request_id(b'{"jsonrpc":"2.0","id":5,"method":"tools/call","argu') is None, (
        "params not seen: unsure"
    )
    assert _request_id(b'{"jsonrpc":"2.0","method":"notify","params":{') is None


def test_invalid_utf8_is_replaced_as_the_sdk_does() -> None:
    assert _read_all(b'{"a": "\xff"}\n') == ['{"a": "\ufffd"}\n']


def test_pipes_and_sockets_are_told_apart_from_files_and_closed_descriptors(tmp_path: Path) -> None:
    import stat

    read, write = os.pipe()
    left, right = socket.socketpair()
    with open(tmp_path / "f", "w") as regular:
        try:
            assert _is(read, stat.S_ISFIFO) and not _is(read, stat.S_ISSOCK)
            assert _is(left.fileno(), stat.S_ISFIFO, stat.S_ISSOCK) and not _is(left.fileno(), stat.S_ISFIFO)
            assert not _is(regular.fileno(), stat.S_ISFIFO, stat.S_ISSOCK)
            assert not _is(999, stat.S_ISFIFO)
        finally:
            os.close(read)
            os.close(write)
            left.close()
            right.close()


def test_an_answer_is_written_out_whole_before_the_streams_close() -> None:
    """The last answer is not left in a buffer when the server ends (a client that reads late)."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    answer = mcp_types.JSONRPCResponse(jsonrpc="2.0", id=1, result={"pad": "x" * 300_000})
    expected = answer.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
    received = bytearray()

    def read_late() -> None:
        threading.Event().wait(0.5)
        while chunk := os.read(stdout_r, 65536):
            received.extend(chunk)

    async def serve() -> None:
        async with _streams(stdin_r, stdout_w) as (incoming, outgoing):
            async with outgoing:
                await outgoing.send(SessionMessage(answer))
            os.close(stdin_w)
            assert [m async for m in incoming] == []

    reader = threading.Thread(target=read_late)
    reader.start()
    try:
        asyncio.run(serve())
    finally:
        os.close(stdout_w)
        reader.join(10)
        os.close(stdin_r)
        os.close(stdout_r)
    assert bytes(received) == expected


WIRE = textwrap.dedent(
    """
    import fcntl, os, subprocess
    from pathlib import Path
    from k8s_multicluster_mcp.stdio_transport import PIPE_SIZE, _wire
    os.set_blocking(1, False)
    with _wire() as (wire_in, wire_out):
        most = min(PIPE_SIZE, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
        assert fcntl.fcntl(wire_out, fcntl.F_GETPIPE_SZ) >= most, "room for a large answer"
        os.write(1, b"stray print\\n")
        subprocess.run(["sh", "-c", "echo stray child; cat"], check=True)  # reads the null device
        os.set_blocking(wire_out, False)
        os.write(wire_out, os.read(wire_in, 100).upper())
    assert os.get_blocking(0) and not os.get_blocking(1), "each as it was"
    os.set_blocking(1, True)
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


@pytest.mark.parametrize(
    "message",
    [
        mcp_types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"content": [{"type": "text", "text": "a\nb\t\"c\" é ✓ \u2028 \x00 \x1f \x7f"}]}),
        mcp_types.JSONRPCResponse(jsonrpc="2.0", id="req-1", result={"n": [1, -2, 1.5, 1e300, 0.1, True, None], "o": {}}),
        mcp_types.JSONRPCResponse(jsonrpc="2.0", id=1, result={"big": 2**70, "neg": -(2**65)}),
        mcp_types.JSONRPCResponse(jsonrpc="2.0", id=1, result={"when": datetime(2026, 12, 3, tzinfo=timezone.utc)}),
        mcp_types.JSONRPCResponse(jsonrpc="2.0", id=1, result={"inf": float("inf"), "nan": float("nan")}),
        mcp_types.JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": 1}),
        mcp_types.JSONRPCError(jsonrpc="2.0", id=3, error=mcp_types.ErrorData(code=-32600, message="bad")),
    ],
)  # fmt: skip
def test_a_message_is_written_as_the_sdk_writes_it(message: mcp_types.JSONRPCMessage) -> None:
    """Answers are written by orjson, held to pydantic's bytes, whatever a result holds."""
    assert encoded(message) == message.model_dump_json(by_alias=True, exclude_unset=True).encode()
