"""What the user is asked before a destructive call, and what the model is told when the user says
no or cannot be asked: one compact question naming the action, its target, the cluster and what
the server-side dry run says would change."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.render.writes import OutcomeOut, WriteOutput

MAX_ITEMS = 8
"""Objects listed in a question; more are counted."""
MAX_CHANGES = 3
"""Changed fields listed per object; more are counted."""


def target(arguments: Mapping[str, Any]) -> str:
    """What a destructive call acts on, from its arguments: 'deployment t-1/web to 0 replicas',
    'node worker-2', "pod t-1/api: run 'rm -rf /data'"."""
    namespace = arguments.get("namespace")
    where = f"{shown(namespace)}/" if namespace else ""
    if arguments.get("node_name") is not None:
        said = f"node {shown(arguments['node_name'])}"
    elif arguments.get("pod_name") is not None:
        said = f"pod {where}{shown(arguments['pod_name'])}"
        if arguments.get("container"):
            said += f" (container {shown(arguments['container'])})"
    elif arguments.get("resource_type") is not None:
        said = f"{shown(arguments['resource_type'])} {where}{shown(arguments.get('name'))}"
    else:
        said = f"namespace {shown(arguments.get('name'))} (and everything in it)"
    if arguments.get("replicas") is not None:
        said += f" to {arguments['replicas']} replicas"
    if "to_revision" in arguments:
        revision = arguments["to_revision"]
        said += " to the previous revision" if revision is None else f" to revision {revision}"
    command = arguments.get("command")
    if command is not None:
        shell = " through /bin/sh -c" if arguments.get("shell") else ""
        argv = shlex.join(str(a) for a in command) if isinstance(command, list) else command
        said += f": run {shown(argv)}{shell}"
    return said


def _value(value: Any) -> str:
    return "<none>" if value is None else json.dumps(value, sort_keys=True, default=str)


def _outcome(o: OutcomeOut) -> str:
    where = f"{o.namespace}/" if o.namespace else ""
    said = f"{o.kind} {where}{o.name} {o.verb}"
    if o.error:
        said += f" ({o.error})"
    elif o.detail:
        said += f" ({o.detail})"
    changes = [f"{c.path}: {_value(c.before)} -> {_value(c.after)}" for c in o.changes[:MAX_CHANGES]]
    if len(o.changes) > MAX_CHANGES:
        changes.append(f"{len(o.changes) - MAX_CHANGES} more fields")
    return said + (f" [{'; '.join(changes)}]" if changes else "")


def dry_run_summary(preview: WriteOutput) -> str:
    """What the dry run says would happen, object by object: 'deployments.apps t-1/web deleted'."""
    if not preview.items:
        return "nothing would change"
    said = [_outcome(o) for o in preview.items[:MAX_ITEMS]]
    if len(preview.items) > MAX_ITEMS:
        said.append(f"… {len(preview.items) - MAX_ITEMS} more objects")
    return "; ".join(said)


def question(title: str, arguments: Mapping[str, Any], context: str, preview: WriteOutput | None) -> str:
    """The confirmation the user sees, one line: 'Delete an object: deployment t-1/web in cp-1?
    Dry run: deployments.apps t-1/web deleted'. Without a dry run (exec) it says so."""
    asked = f"{title}: {target(arguments)} in {context}?"
    if preview is None:
        return one_line(f"{asked} (no dry run exists for this operation)")
    return one_line(f"{asked} Dry run: {dry_run_summary(preview)}")


def declined(title: str, arguments: Mapping[str, Any], context: str, action: str) -> str:
    """The answer when the user said no (or dismissed the question): nothing changed, and the model
    should not simply try again."""
    said = "declined" if action == "decline" else "dismissed"
    return one_line(
        f"Not done: the user {said} the confirmation of {title.lower()} ({target(arguments)} in "
        f"{context}); nothing was changed. Do not retry unless the user asks for it again."
    )


def refused(tool: str, *, previewable: bool) -> str:
    """The one-line refusal under --require-confirmation for a client that cannot ask its user."""
    preview = ", or dry_run=true to preview" if previewable else ""
    return (
        f"{tool} was refused: this server requires the user's confirmation for destructive calls "
        "(--require-confirmation) and this client cannot ask for it (no form elicitation); nothing "
        f"was changed. Valid: a client that supports elicitation{preview}"
    )
