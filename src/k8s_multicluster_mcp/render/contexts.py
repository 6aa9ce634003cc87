"""The contexts the server knows, for the model: file, API server, auth, default namespace, last
status; unusable kubeconfig files and names defined in several files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from k8s_multicluster_mcp.common.text import one_line
from k8s_multicluster_mcp.model.contexts import Inventory
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.render.base import table


class ContextOut(BaseModel):
    name: str
    cluster: str
    server: str | None = None
    user: str
    auth: str
    namespace: str | None = None
    file: str
    last_status: str | None = None
    last_error: str | None = None


class FileProblemOut(BaseModel):
    file: str
    reason: str


class ContextsOutput(BaseModel):
    contexts: list[ContextOut]
    problems: list[FileProblemOut]
    duplicates: dict[str, list[str]]
    searched: list[str]


def render_contexts(
    inventory: Inventory, last: Mapping[str, ClusterReport], no_contexts: str
) -> tuple[str, ContextsOutput]:
    """Every context with its last known status; unusable files; names defined twice."""
    contexts = [
        ContextOut(
            name=c.name,
            cluster=c.cluster,
            server=c.server,
            user=c.user,
            auth=c.auth,
            namespace=c.namespace,
            file=str(c.file),
            last_status=last[c.name].status if c.name in last else None,
            last_error=last[c.name].error if c.name in last else None,
        )
        for c in inventory.contexts.values()
    ]
    output = ContextsOutput(
        contexts=contexts,
        problems=[FileProblemOut(file=str(p.file), reason=p.reason) for p in inventory.problems],
        duplicates={c.raw_name: list(c.names) for c in inventory.collisions},
        searched=list(inventory.searched),
    )
    if not contexts:
        lines = [no_contexts]
    else:
        lines = [f"{len(contexts)} context{'s' if len(contexts) != 1 else ''}:"]
        lines.append(
            table(
                ["NAME", "SERVER", "AUTH", "NAMESPACE", "LAST", "FILE"],
                [
                    [
                        c.name,
                        c.server or "-",
                        c.auth,
                        c.namespace or "-",
                        c.last_status or "-",
                        Path(c.file).name,
                    ]
                    for c in contexts
                ],
            )
        )
    for name, names in output.duplicates.items():
        lines.append(one_line(f"Context {name!r} is defined in several files; use: {', '.join(names)}"))
    for problem in output.problems:
        lines.append(one_line(f"Unusable kubeconfig {problem.file}: {problem.reason}"))
    return "\n".join(lines), output
