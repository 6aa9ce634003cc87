"""`--transport stdio` (the default): MCP over stdin and stdout, read and written by the event loop.

The SDK's `stdio_server` reads every line and writes every answer through worker threads
(`anyio.wrap_file`: a readline, a write and a flush each cross to a thread and back). A cached
fleet answer costs a few milliseconds, and those hand-offs were half a millisecond of it
(benchmarks/README.md, "Session 10"). MCP clients start a stdio server with pipes, which the
event loop can watch itself; so when stdout is a pipe and stdin a pipe or a socket, `serve` reads
and writes them with asyncio's pipe transports. Anything else (a terminal, a regular file, one
socket as both, Windows) is served by the SDK's own transport.

Either way, while serving, fd 0 reads the null device and fd 1 writes to stderr, as the SDK's
transport arranges: a child process or a stray print cannot write into the protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

LINE_LIMIT = DEFAULT_MAX_REQUEST_BODY_SIZE
"""The longest message read from stdin, in bytes: the SDK's limit for a request over HTTP (4 MiB).
A longer line is dropped with a warning, answered with an error when its `id` comes before its
`params`, and the server reads on."""

PIPE_SIZE = 1 << 20
"""Bytes the stdout pipe is asked to hold (Linux; where it cannot, it keeps its size)."""

Incoming = MemoryObjectReceiveStream[SessionMessage | Exception]
Outgoing = MemoryObjectSendStream[SessionMessage]


async def serve(server: MCPServer[Any]) -> None:
    """Serve `server` on stdin and stdout until stdin ends."""
    if sys.platform == "win32" or not (_is(0, stat.S_ISFIFO, stat.S_ISSOCK) and _is(1, stat.S_ISFIFO)):
        await server.run_stdio_async()
        return
    # MCPServer has no public way to run on given streams; server.py reaches the same object.
    lowlevel = server._lowlevel_server
    with _wire() as (wire_in, wire_out):
        async with _streams(wire_in, wire_out) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def _is(fd: int, *kinds: Callable[[int], bool]) -> bool:
    """Whether `fd` is open and of one of `kinds` (`stat.S_ISFIFO`, ...).

    The event loop can wait on a pipe or a socket for reading. For writing only a pipe: asyncio
    takes a write socket that becomes readable for its peer closing, and one socket serving as
    both stdin and stdout (socat, inetd) is readable whenever a request arrives."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return any(kind(mode) for kind in kinds)


@contextmanager
def _wire() -> Iterator[tuple[int, int]]:
    """Private duplicates of fd 0 and fd 1 for the protocol; meanwhile fd 0 reads the null device
    and fd 1 writes to stderr. Both are put back as they were on the way out."""
    import fcntl

    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    # A pipe holds 64 KB: a larger answer went out in pieces as the client read, the event loop
    # woken for each (a 320 KB answer after a pause: 1 ms more than one blocking write in a
    # thread). With room for 1 MB (Linux's default most for a user) it is one write.
    with suppress(OSError, AttributeError):
        fcntl.fcntl(wire_out, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    # The event loop makes the wires non-blocking, and that flag belongs to the open file, shared
    # with whoever started us: it is put back as it was.
    blocking = {wire: os.get_blocking(wire) for wire in (wire_in, wire_out)}
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        yield wire_in, wire_out
    finally:
        for fd, wire in ((0, wire_in), (1, wire_out)):
            os.set_blocking(wire, blocking[wire])
            os.dup2(wire, fd)
            os.close(wire)


@asynccontextmanager
async def _streams(wire_in: int, wire_out: int) -> AsyncIterator[tuple[Incoming, Outgoing]]:
    """The server's message streams over the two wire descriptors, as the SDK's `stdio_server`
    makes them (one JSON-RPC message per line, a line that does not parse passed on as the error)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    # The transports own (and close) duplicates: the wire descriptors stay `_wire`'s to restore.
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(wire_in), "rb", buffering=0)
    )
    try:
        write_transport, drain = await loop.connect_write_pipe(
            _Drain, os.fdopen(os.dup(wire_out), "wb", buffering=0)
        )
    except BaseException:
        read_transport.close()
        raise
    # An answer is written out before the next (as the SDK's flush): none is left in a buffer
    # when the server ends.
    write_transport.set_write_buffer_limits(high=0)
    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](0)

    def send(message: mcp_types.JSONRPCMessage) -> None:
        write_transport.write(encoded(message) + b"\n")

    async def read() -> None:
        async with incoming_writer:
            async for line in _lines(reader):
                if isinstance(line, _TooLong):
                    if line.id is not None:
                        send(_refused(line.id, line.size))
                    continue
                try:
                    message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except Exception as exc:  # the SDK passes a line that does not parse on, as this
                    await incoming_writer.send(exc)
                    continue
                await incoming_writer.send(SessionMessage(message))

    async def write() -> None:
        async with outgoing_reader:
            async for session_message in outgoing_reader:
                send(session_message.message)
                await drain.drained()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(read)
            group.start_soon(write)
            yield incoming, outgoing
    finally:
        read_transport.close()
        write_transport.close()


_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""orjson options under which a value that is not of a JSON type (a datetime, a dataclass, a str
subclass) fails instead of being written in orjson's own way, which may not be pydantic's."""


def encoded(message: mcp_types.JSONRPCMessage) -> bytes:
    """A message's JSON, as the SDK's transport writes it (`model_dump_json(by_alias=True,
    exclude_unset=True)`), byte for byte.

    An answer's `result` is JSON already: the SDK dumps the handler's result in JSON mode before
    it wraps it. pydantic's serializer walks that `dict[str, Any]` as it would unknown values;
    orjson writes the same bytes about 6x faster (39 KB of failing pods: 116 -> 19 us, in process).
    It is held to JSON's own types (`_JSON_ONLY`); anything else, or a result orjson refuses (an
    integer beyond 64 bits), pydantic writes."""
    if isinstance(message, mcp_types.JSONRPCResponse):
        body = {"jsonrpc": message.jsonrpc, "id": message.id, "result": message.result}
        try:
            return orjson.dumps(body, option=_JSON_ONLY)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode()


@dataclass(frozen=True)
class _TooLong:
    """A line over `LINE_LIMIT`, dropped: its size, and its request id when one was found."""

    size: int
    id: str | int | None


_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')


def _request_id(head: bytes) -> str | int | None:
    """The id of a JSON-RPC request from the start of its line, when it comes before `params`
    (as the MCP SDKs write it); None when it cannot be told for sure."""
    before = head.split(b'"params"', 1)[0]
    found = _ID.search(before)
    if found is None or len(before) == len(head):  # no `params` seen: the id may be anywhere
        return None
    try:
        value: str | int = json.loads(found.group(1))
    except ValueError:
        return None
    return value


def _refused(request: str | int, size: int) -> mcp_types.JSONRPCError:
    return mcp_types.JSONRPCError(
        jsonrpc="2.0",
        id=request,
        error=mcp_types.ErrorData(
            code=mcp_types.INVALID_REQUEST,
            message=f"the message is {size} bytes; at most {LINE_LIMIT} (4 MiB) are read from stdin",
        ),
    )


async def _lines(reader: asyncio.StreamReader) -> AsyncIterator[str | _TooLong]:
    """Each line of `reader` until it ends, decoded as the SDK does; a line longer than
    `LINE_LIMIT` is skipped with a warning (`_TooLong`)."""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if end.partial.strip():
                yield end.partial.decode("utf-8", "replace")
            return
        except asyncio.LimitOverrunError as over:
            size, head = await _skip_line(reader, over.consumed)
            log.warning(
                "a message of %d bytes on stdin was dropped: messages are at most %d bytes (4 MiB)",
                size, LINE_LIMIT,
            )  # fmt: skip
            yield _TooLong(size, _request_id(head))
            continue
        yield line.decode("utf-8", "replace")


async def _skip_line(reader: asyncio.StreamReader, consumed: int) -> tuple[int, bytes]:
    """Read past the rest of a line found too long, `consumed` bytes of it (none of them its end)
    already in the reader: how many bytes the line had, and its first KB."""
    skipped, head = 0, b""
    while True:
        dropped = await reader.readexactly(consumed)
        head = head or dropped[:1024]
        skipped += consumed
        try:
            return skipped + len(await reader.readuntil(b"\n")), head
        except asyncio.LimitOverrunError as over:
            consumed = over.consumed
        except asyncio.IncompleteReadError as end:
            return skipped + len(end.partial), head


class _Drain(asyncio.Protocol):
    """Flow control for the write pipe: `drained` waits while the pipe's buffer is over its
    high-water mark (a client that reads slowly), and raises once the client has gone."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._lost = False

    def pause_writing(self) -> None:
        self._open.clear()

    def resume_writing(self) -> None:
        self._open.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._open.set()

    async def drained(self) -> None:
        await self._open.wait()
        if self._lost:
            raise BrokenPipeError("the MCP client closed its end of stdout")
