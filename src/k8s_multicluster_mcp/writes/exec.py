"""Running a command in a container (the exec toolset): an argv list or a shell, a timeout that
holds whatever the command prints, an output cap, and the exit status read from the status
channel (a command that cannot start is said in one line)."""

from __future__ import annotations

import ast
import contextlib
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

from k8s_multicluster_mcp.common.errors import ClusterApiError, UserError
from k8s_multicluster_mcp.common.names import check_name
from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.records import Raw, pod_record
from k8s_multicluster_mcp.query.results import ContextSpec
from k8s_multicluster_mcp.writes.writer import (
    ObjectWriter,
    Outcome,
    WriteResult,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


EXEC_OUTPUT = 64 * 1024
_STDOUT, _STDERR, _STATUS = 1, 2, 3
"""The exec websocket's channels (the status channel carries the v1 Status of the command)."""


def exit_code(status: str) -> int | str:
    """The exit code in the Status an exec ends with, or the runtime's message when the command
    could not run (a missing binary, no /bin/sh): the official client's `returncode` assumes a
    number there and fails with ValueError on real kubelets."""
    if not status.strip():
        return "the connection closed without an exit status"
    try:
        body = orjson.loads(status)
    except orjson.JSONDecodeError:
        return one_line(status)
    if not isinstance(body, dict):
        return one_line(status)
    if body.get("status") == "Success":
        return 0
    causes = (body.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(str(cause.get("message")))
    return one_line(_runtime_reason(str(body.get("message") or body.get("reason") or status)))


_RUNTIME_PREFIXES = ("unable to start container process: ", "OCI runtime exec failed: ")


def _runtime_reason(message: str) -> str:
    """The part of a runtime's failure that says why ('exec: "nope": executable file not found in
    $PATH'), without the layers of 'Internal error occurred: error executing command in
    container: failed to exec in container: failed to start exec "<64 hex>": ...' around it."""
    for prefix in _RUNTIME_PREFIXES:
        if prefix in message:
            return message.rsplit(prefix, 1)[1].removesuffix(": unknown")
    return message


def _running_container(obj: Raw, namespace: str | None, pod: str, container: str | None) -> str:
    """The container to exec into (the only or the default one when not named), which must exist
    and be running: said in one line, before any websocket is opened."""
    spec = obj.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or () if isinstance(c, Mapping)]
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    default = annotations.get("kubectl.kubernetes.io/default-container")
    target = container or (default if default in names else None) or (names[0] if len(names) == 1 else None)
    if target is None:
        raise UserError(f"pod {namespace}/{pod} has several containers; name one: {', '.join(names)}")
    if target not in names:
        raise UserError(
            f"pod {namespace}/{pod} has no container {shown(target)}; its containers: {', '.join(names)}"
        )
    found = next(c for c in pod_record("", obj).containers if not c.init and c.name == target)
    if found.state != "running":
        state = "no status from a kubelet yet" if found.state == "unknown" else found.state
        now = f"{state}: {found.reason}" if found.reason else state
        raise ClusterApiError(
            f"container {target} of pod {namespace}/{pod} is not running ({now}); "
            "exec needs a running container"
        )
    return target


def _handshake(exc: BaseException) -> str:
    """Why an exec websocket was refused, in one line: the API server's Status message, which the
    client keeps at the end of its reason ('Handshake status 400 ... -+-+- {headers} -+-+-
    b'{status json}''), or else the first line of that reason."""
    reason = str(getattr(exc, "reason", None) or exc)
    body = reason.rsplit("-+-+-", 1)[-1].strip()
    if body[:2] in ("b'", 'b"'):
        with contextlib.suppress(ValueError, SyntaxError):
            body = ast.literal_eval(body).decode("utf-8", "replace")
    try:
        message = orjson.loads(body).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    return one_line(str(message or (reason.splitlines()[0] if reason else type(exc).__name__)))


def pod_exec(
    w: ObjectWriter,
    context: ContextSpec,
    pod: str,
    command: str | Sequence[str],
    container: str | None,
    namespace: str | None,
    shell: bool,
    timeout: float,
) -> WriteResult:
    """Run a command in a container: an argv list (no shell unless `shell`), at most `timeout`
    seconds and `EXEC_OUTPUT` bytes of output."""
    check_name(pod, "pod")
    if container is not None:
        check_name(container, "container")
    if not 1 <= timeout <= 300:
        raise UserError(f"timeout must be between 1 and 300 seconds, got {timeout:g}")
    if isinstance(command, str):
        argv = ["/bin/sh", "-c", command] if shell else shlex.split(command)
    else:
        argv = ["/bin/sh", "-c", shlex.join(command)] if shell else list(command)
    if not argv:
        raise UserError("command is empty")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> tuple[list[Outcome], str]:
        ns = str(w.namespace_for(c, w.kind(c, "pods"), namespace))
        target = _running_container(w.existing(c, cl, w.kind(c, "pods"), ns, pod), ns, pod, container)
        try:
            session = api.exec_session(cl, ns, pod, target, argv, timeout=w.timeout)
        except Exception as exc:
            if getattr(exc, "status", None) == 403:
                raise  # the fan-out words a 403 like any other (naming the caller it acted for)
            raise ClusterApiError(
                f"the cluster cannot run commands in pod {ns}/{pod}: {_handshake(exc)}"
            ) from exc
        output: list[str] = []
        status: list[str] = []
        size = 0
        stop = time.monotonic() + timeout
        try:
            # read_stdout() without a timeout blocks until a frame comes, so a silent command would
            # outlive `timeout`: poll with a bounded wait and read what arrived without waiting.
            while session.is_open() and size < EXEC_OUTPUT:
                left = stop - time.monotonic()
                if left <= 0:
                    break
                session.update(timeout=min(1.0, left))
                for channel in (_STDOUT, _STDERR, _STATUS):
                    chunk = session.read_channel(channel, timeout=0)
                    if chunk and channel == _STATUS:
                        status.append(chunk)
                    elif chunk:
                        output.append(chunk)
                        size += len(chunk)
            finished = not session.is_open()
            status.append(session.read_channel(_STATUS, timeout=0) if finished else "")
        finally:
            session.close(timeout=1)
        text = "".join(output)[:EXEC_OUTPUT]
        # Cut whenever more came than is kept: one `update()` may read the last output frames
        # and the close together, so a finished command can still have printed past the cap.
        if not finished or size > EXEC_OUTPUT:
            cut = size >= EXEC_OUTPUT
            verb = "cut" if cut else "timed out"
            detail = f"output cut at {EXEC_OUTPUT} bytes" if cut else f"stopped after {timeout:g}s"
            return [Outcome(verb, "pods", ns, pod, detail=detail)], text
        code = exit_code("".join(status))
        if isinstance(code, str):
            raise ClusterApiError(f"the command could not run in {ns}/{pod} ({target}): {code}")
        return [Outcome("exited", "pods", ns, pod, detail=f"exit code {code}")], text

    return w.run(context, "k8s_pod_exec", run, dry_run=False, budget=timeout + w.timeout * 2)
