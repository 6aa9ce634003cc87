"""What every tool module builds on: the tool spec, the wrappers every tool goes through, and the
one-line messages for failures and for arguments that do not validate."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from k8s_multicluster_mcp.common import progress
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.kube import fanout, noblock
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.writes.writer import ObjectWriter

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Services:
    """What the composition root (`server`) builds once for every tool. A tool names what it
    uses by its leading parameters' types (`state: ClusterState`, `reader: ObjectReader`,
    `writer: ObjectWriter`), and `bind` gives it exactly those."""

    state: ClusterState
    """The kinds a source serves (pods, deployments, nodes, namespaces), cached or live."""
    reader: ObjectReader
    """Any kind, live, redacted."""
    writer: ObjectWriter
    """Writes to one context (dry run, server-side apply, audit log)."""

    def close(self) -> None:
        """Stop every call into a cluster: the source's watches and lists, then the one Fanout
        every live call shares."""
        self.state.close()
        self.reader.fanout.close()


@dataclass(frozen=True)
class Registration:
    """Which tools are registered: `--toolsets`, `--read-only`, `--disable-destructive`."""

    toolsets: frozenset[str] | None = None
    read_only: bool = False
    disable_destructive: bool = False
    require_confirmation: bool = False
    """A destructive call from a client that cannot ask its user (no elicitation) is refused."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool and what it may do to a cluster."""

    name: str
    title: str
    toolset: str
    fn: Callable[..., Awaitable[Any]]
    """The tool: its leading parameters are services (see `Services`), the rest its arguments."""
    writes: bool = False
    destructive: bool = False
    """Deletes, drains, rolls back or runs commands: not registered under --disable-destructive."""
    overwrites: bool = False
    """May change or remove existing state (patch, apply, scale, restart): destructive_hint, but
    kept under --disable-destructive."""
    idempotent: bool = True
    output_schema: bool = False
    """Declare (and validate) the output schema (the fleet tools' items are an interface); every
    tool returns structured content either way, but schemas cost tokens on every request and
    building them costs startup time."""
    destructive_if: Callable[[Mapping[str, Any]], bool] | None = None
    """For a tool that is not `destructive`: whether a call with these arguments is (scaling to
    zero), so it is confirmed like one."""


class Tools(list[ToolSpec]):
    """A toolset module's tools, each added by decorating its function with `add`."""

    def add(
        self,
        name: str,
        title: str,
        toolset: str,
        *,
        writes: bool = False,
        destructive: bool = False,
        overwrites: bool = False,
        idempotent: bool = True,
        output_schema: bool = False,
        destructive_if: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Callable[[F], F]:
        def added(fn: F) -> F:
            self.append(
                ToolSpec(
                    name, title, toolset, fn, writes, destructive, overwrites, idempotent, output_schema,
                    destructive_if,
                )
            )  # fmt: skip
            return fn

        return added


def bind(fn: Callable[..., Awaitable[T]], services: Services) -> Callable[..., Awaitable[T]]:
    """`fn` with its leading service parameters given (a `functools.partial`, whose signature, what
    the MCP SDK reads for the tool's input schema, keeps only the tool's own arguments), and the
    call's progress sent when the client asked for it (`_with_progress`).

    Nothing else is evaluated here: the arguments' and the return annotations are evaluated when
    the SDK builds the tool (`inspect.signature(..., eval_str=True)` sees through a partial to
    `fn`, `typing.get_type_hints` reads the partial's `__globals__`), which the server defers to the
    tool's first use. Evaluating them all at start cost about 2% of a bare server's start, most of
    it creating the fleet tools' generic output models (`FleetOutput[NodeProblem]`).
    """
    given: dict[Any, Any] = {ClusterState: services.state, ObjectReader: services.reader,
                             ObjectWriter: services.writer}  # fmt: skip
    params = list(inspect.signature(fn).parameters.values())
    leading = []
    for param in params:
        annotation = _named(param.annotation, fn.__globals__)
        if annotation not in given:
            break
        leading.append(given[annotation])
    tool = functools.partial(fn, *leading)
    annotations = {
        p.name: fn.__annotations__[p.name] for p in params[len(leading) :] if p.name in fn.__annotations__
    }
    if "return" in fn.__annotations__:
        annotations["return"] = fn.__annotations__["return"]
    vars(tool).update(
        __module__=fn.__module__, __name__=fn.__name__, __qualname__=fn.__qualname__, __doc__=fn.__doc__,
        __annotations__=annotations, __globals__=fn.__globals__,
    )  # fmt: skip
    return _with_progress(tool)


CONTEXT = "mcp_context"
"""The keyword under which the SDK hands a bound tool the call's `Context`."""
PROGRESS_EVERY = 0.1
"""Seconds between two progress notifications of one call at most (the last is always sent)."""


def _with_progress(tool: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """`tool`, reporting its progress (`common.progress`) to the client when the client sent a
    progress token, and only then."""

    @functools.wraps(tool)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        context = kwargs.pop(CONTEXT, None)
        if not _wants_progress(context):
            return await tool(*args, **kwargs)
        failed: Exception | None = None
        async with progress_sent(context.report_progress) as sink:
            with progress.reporting(sink, _reporter(context.request_context)):
                try:
                    result = await tool(*args, **kwargs)
                except Exception as exc:  # raised below, as it is, not in an exception group
                    failed = exc
        if failed is not None:
            raise failed
        return result

    # The SDK finds the parameter it hands the call's Context by the annotations alone
    # (`typing.get_type_hints`), the input schema by the signature (the partial's, through
    # `__wrapped__`): the Context reaches this wrapper and stays out of the schema.
    wrapper.__annotations__ = {**tool.__annotations__, CONTEXT: Context}
    return wrapper


_reporters: dict[int, progress.Reporter] = {}


def _reporter(request: object) -> progress.Reporter:
    """The progress of one request, shared by every run of a tool in it (a confirmation's dry
    run, then the call), so that its numbers only grow; forgotten with the request."""
    key = id(request)
    found = _reporters.get(key)
    if found is None:
        found = _reporters[key] = progress.Reporter()
        weakref.finalize(request, _reporters.pop, key, None)
    return found


def _wants_progress(context: Context[Any, Any] | None) -> bool:
    """Whether this call's client sent a progress token (a call made outside a request did not)."""
    try:
        meta = context.request_context.meta if context is not None else None
    except ValueError:
        return False
    return meta is not None and meta.get("progress_token") is not None


Send = Callable[[float, float | None, str | None], Awaitable[None]]


@contextlib.asynccontextmanager
async def progress_sent(send: Send, every: float = PROGRESS_EVERY) -> AsyncIterator[progress.Progress]:
    """A `Progress` callable from any thread whose reports `send` delivers on this event loop, in
    order, at most one per `every` seconds (the latest wins), the last before this block ends.
    The block runs in a task group: an error it raises reaches the caller in an exception group."""
    token = anyio.lowlevel.current_token()
    put, get = anyio.create_memory_object_stream[tuple[int, int, str]](math.inf)

    def sink(done: int, total: int, message: str) -> None:
        token.backend_class.run_sync_soon(_put, (put, (done, total, message)), token.native_token)

    async def sender() -> None:
        last = -math.inf
        async with get:
            async for report in get:
                wait = last + every - time.monotonic()
                if wait > 0:
                    await anyio.sleep(wait)
                report = _latest(get, report)
                last = time.monotonic()
                try:
                    await send(*report)
                except Exception as exc:  # the client is gone: the call goes on without progress
                    log.debug("progress not sent: %s", one_line(str(exc)))
                    return

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(sender)
        try:
            yield sink
        finally:
            # Reports already queued from worker threads arrive first, then the end.
            await anyio.lowlevel.checkpoint()
            put.close()


def _put(stream: MemoryObjectSendStream[T], item: T) -> None:
    with contextlib.suppress(anyio.ClosedResourceError):  # a report after the call ended
        stream.send_nowait(item)


def _latest(stream: MemoryObjectReceiveStream[T], item: T) -> T:
    """The newest item already waiting in `stream`, or `item` when none is."""
    while True:
        try:
            item = stream.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream):
            return item


def _named(annotation: Any, namespace: Mapping[str, Any]) -> Any:
    """What an annotation names: itself, or for a string (`from __future__ import annotations`) the
    object a (dotted) name in it stands for in `namespace`, or None for any other expression."""
    if not isinstance(annotation, str):
        return annotation
    head, *rest = annotation.split(".")
    value = namespace.get(head)
    for part in rest:
        value = getattr(value, part, None)
    return value


async def ask(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Answer a read-only question: on the event loop when memory holds the answer (the watch
    cache, the on-demand TTL cache), else in a worker thread as `run_blocking` does.

    On the loop, anything that would block raises `noblock.WouldBlock` first (`kube.noblock`);
    the question is then asked again in a thread. Only reads may come here: what a question did
    before its first I/O happens twice. It runs in a copy of the caller's context, as a thread would.
    """
    question = functools.partial(fn, *args, **kwargs)
    try:
        return contextvars.copy_context().run(_from_memory, question)
    except noblock.WouldBlock:
        return await run_blocking(question)


def _from_memory(question: Callable[[], T]) -> T:
    with noblock.memory_only():
        return _one_question(question)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking query code (the kubernetes client blocks) in a worker thread, as one
    question (`fanout.question`: a cluster that did not answer is not asked again in it).

    A cancelled call (client gone, server shutting down) does not wait for the thread: the
    thread's cluster calls have deadlines of their own and shutdown cuts them.
    """
    return await anyio.to_thread.run_sync(
        functools.partial(_one_question, functools.partial(fn, *args, **kwargs)), abandon_on_cancel=True
    )


def _one_question(fn: Callable[[], T]) -> T:
    with fanout.question():
        return fn()


def as_tool_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Every failure becomes a one-line tool error for the model, never a traceback.

    Bad input (`UserError`) says what was wrong and what is valid. Anything else is a bug: the
    model gets one line naming what failed, the traceback goes to the log at DEBUG only (a
    RecursionError's traceback alone is hundreds of kilobytes), and the server keeps serving.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except UserError as exc:
            raise ToolError(str(exc)) from exc
        except ToolError:
            raise
        except Exception as exc:
            log.debug("tool %s failed", fn.__name__, exc_info=True)
            log.error("tool %s failed: %s: %s", fn.__name__, type(exc).__name__, one_line(str(exc)))
            raise ToolError(
                f"{fn.__name__} failed unexpectedly ({type(exc).__name__}: {one_line(str(exc))}); "
                "this is a bug in the server, which keeps serving; its log has details at DEBUG"
            ) from exc

    return wrapper


def no_bool(value: object) -> object:
    """For number arguments: JSON `true` is not 1 (pydantic's lax mode would take it as 1)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _expected(schema: Mapping[str, Any]) -> str:
    """What a JSON schema accepts, in a few words: 'string or array of string or null'."""
    if "anyOf" in schema:
        return " or ".join(_expected(s) for s in schema["anyOf"])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return " or ".join(_expected({**schema, "type": kind}) for kind in kinds)
    if kinds == "array":
        return f"array of {_expected(schema.get('items') or {})}"
    return str(kinds or "any value")


def argument_errors(tool: str, schema: Mapping[str, Any], error: ValidationError) -> str:
    """One line for arguments that failed validation: which argument, what it got, what is valid."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    problems: dict[str, str] = {}
    for err in error.errors():
        name = str(err["loc"][0]) if err["loc"] else "arguments"
        if name in problems:
            continue
        spec = properties.get(name) or {}
        valid = _expected(spec) + (f" ({spec['description']})" if spec.get("description") else "")
        if err["type"] == "missing":
            problems[name] = f"missing required argument '{name}': {valid}"
        else:
            got = err.get("input")
            problems[name] = (
                f"invalid argument '{name}': got {shown(got)} ({type(got).__name__}), expected {valid}"
            )
    return f"{tool}: " + "; ".join(problems.values())


def enabled(spec: ToolSpec, registration: Registration) -> bool:
    if registration.toolsets and spec.toolset not in registration.toolsets:
        return False
    if registration.read_only and spec.writes:
        return False
    return not (registration.disable_destructive and spec.destructive)
