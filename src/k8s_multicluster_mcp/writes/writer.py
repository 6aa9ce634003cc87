"""Writes to one cluster, safe by construction: every write can be a server-side dry run, answers
say what changed (a diff of cleaned objects, so secret values never appear), apply is server-side
apply, and every write is logged to stderr for audit.

The original's write tools all act on one context, so `ObjectWriter` resolves exactly one and runs
the write in the same `Fanout` as every read (deadline, per-cluster bound). A failure of the API
(403, 404, 409, 422, unreachable ...) is that cluster's `ClusterError`, one line; bad input is a
`UserError`, refused before any request where it can be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterError, NotFoundError, UnknownKindError
from k8s_multicluster_mcp.common.logs import AUDIT
from k8s_multicluster_mcp.common.names import check_namespace, check_path_name
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.kube.discovery import ResourceType, check_word
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.diff import FieldChange, diff
from k8s_multicluster_mcp.model.records import Raw
from k8s_multicluster_mcp.model.redact import Redactor
from k8s_multicluster_mcp.query.objects import KindNotServedError, ObjectReader
from k8s_multicluster_mcp.query.results import ClusterReport, ContextSpec

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
"""Namespaces no tool deletes (the original protected the same)."""
FIELD_MANAGER = "k8s-multicluster-mcp"
PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
APPLY = "application/apply-patch+yaml"
audit = logging.getLogger(AUDIT)


@dataclass(frozen=True)
class Outcome:
    """What one write did (or, in a dry run, would do) to one object."""

    verb: str
    """created, configured, unchanged, deleted, evicted, skipped, failed, ..."""
    kind: str
    namespace: str | None
    name: str
    changes: Sequence[FieldChange] = ()
    object: dict[str, Any] | None = None
    """The object as created (cleaned), for creations."""
    error: str | None = None
    detail: str | None = None


@dataclass
class WriteResult:
    context: str
    dry_run: bool
    report: ClusterReport
    outcomes: list[Outcome] = field(default_factory=list)
    output: str | None = None
    """Command output (exec)."""


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class ObjectWriter:
    """Writes of any kind to one context at a time."""

    def __init__(
        self,
        reader: ObjectReader,
        fanout: Fanout,
        redactor: Redactor,
        *,
        disable_destructive: bool = False,
        budget: float | None = None,
        on_write: Callable[[str], None] | None = None,
    ) -> None:
        self.reader = reader
        """Resolves contexts and kinds, and reads the objects a write starts from."""
        self.fanout = fanout
        self.redactor = redactor
        self.disable_destructive = disable_destructive
        self.budget = budget
        self.on_write = on_write
        """Called with the context after a write that may have changed something (not dry runs):
        the on-demand source forgets its cached lists of it."""

    @property
    def timeout(self) -> float:
        return self.fanout.timeout

    def run(
        self,
        context: ContextSpec,
        tool: str,
        fn: Callable[[ContextInfo, ApiClient, deadlines.Deadline], list[Outcome] | tuple[list[Outcome], str]],
        *,
        dry_run: bool,
        budget: float | None = None,
    ) -> WriteResult:
        """`fn` on the one context `context` names; its outcomes, or the cluster's error."""
        ctx = self.reader.one(context, tool)
        seconds = budget or self.budget or self.timeout * 3
        started = utcnow()
        try:
            done = self.fanout.one(
                ctx, lambda d: fn(ctx, self.reader.client(ctx), d), budget=seconds, what=tool
            )
        except KindNotServedError as exc:
            raise UnknownKindError(exc.message) from exc
        except ClusterError as exc:
            if not dry_run and self.on_write is not None:
                self.on_write(ctx.name)
            audit.info(
                "%s: %s%s failed%s: %s",
                ctx.name,
                tool,
                " (dry run)" if dry_run else "",
                caller.by(),
                exc.message,
            )
            return WriteResult(ctx.name, dry_run, ClusterReport(ctx.name, exc.status, error=exc.message))
        outcomes, output = done if isinstance(done, tuple) else (done, None)
        if not dry_run and self.on_write is not None:
            self.on_write(ctx.name)
        for o in outcomes:
            where = f"{o.namespace}/" if o.namespace else ""
            audit.info(
                "%s: %s %s %s%s: %s%s%s",
                ctx.name,
                tool,
                o.kind,
                where,
                o.name,
                o.verb,
                " (dry run)" if dry_run else "",
                caller.by(),
            )
        report = ClusterReport(ctx.name, "ok", "live", started, count=len(outcomes))
        return WriteResult(ctx.name, dry_run, report, outcomes, output)

    # Building blocks, called inside `run`'s function.

    def kind(
        self, ctx: ContextInfo, word: str, group: str | None = None, version: str | None = None
    ) -> ResourceType:
        check_word(word)
        return self.reader.kind(ctx, word, group, version)

    def namespace_for(self, ctx: ContextInfo, resource: ResourceType, namespace: str | None) -> str | None:
        """The namespace of a namespaced object: as given, else the context's, else `default`."""
        if not resource.namespaced:
            return None
        return check_namespace(namespace) or ctx.namespace or "default"

    def get(
        self, client: ApiClient, resource: ResourceType, namespace: str | None, name: str, sub: str = ""
    ) -> Raw | None:
        """The raw object, or None when it does not exist."""
        return api.find_json(client, resource.path(namespace, name) + sub, timeout=self.timeout)

    def existing(
        self,
        ctx: ContextInfo,
        client: ApiClient,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        sub: str = "",
    ) -> Raw:
        found = self.get(client, resource, namespace, name, sub)
        if found is None:
            where = f" in namespace {namespace!r}" if namespace else ""
            raise NotFoundError(f"{resource.kind} {name!r} not found{where} in {ctx.name}")
        return found

    def clean(self, resource: ResourceType | None, obj: Raw | None) -> dict[str, Any] | None:
        if obj is None:
            return None
        return self.redactor.clean(obj, secret=bool(resource and resource.is_secret))

    def compared(
        self, resource: ResourceType, namespace: str | None, name: str, before: Raw, after: Raw
    ) -> Outcome:
        """`configured` with the fields that changed between the cleaned objects, or `unchanged`."""
        changes = diff(self.clean(resource, before), self.clean(resource, after))
        return Outcome("configured" if changes else "unchanged", resource.qualified, namespace, name, changes)

    def patch(
        self,
        ctx: ContextInfo,
        client: ApiClient,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        patch_type: str = "merge",
        dry_run: bool,
        sub: str = "",
        before: Raw | None = None,
    ) -> Outcome:
        """PATCH one object; the outcome lists the fields that changed."""
        before = before if before is not None else self.existing(ctx, client, resource, namespace, name, sub)
        query = {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER}
        path = resource.path(namespace, name) + sub
        try:
            after = api.call_json(
                client,
                "PATCH",
                path,
                query,
                body=body,
                content_type=PATCH_TYPES[patch_type],
                timeout=self.timeout,
            )
        except Exception as exc:
            if getattr(exc, "status", None) != 415 or patch_type != "strategic":
                raise
            # Custom resources take no strategic merge patch; kubectl falls back the same way.
            after = api.call_json(
                client,
                "PATCH",
                path,
                query,
                body=body,
                content_type=PATCH_TYPES["merge"],
                timeout=self.timeout,
            )
        if sub == "/scale":
            before, after = _replicas_said(before), _replicas_said(after)
        return self.compared(resource, namespace, name, before, after)

    def create(
        self, client: ApiClient, resource: ResourceType, namespace: str | None, body: Raw, *, dry_run: bool
    ) -> Outcome:
        created = api.call_json(
            client,
            "POST",
            resource.path(namespace),
            {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER},
            body=body,
            timeout=self.timeout,
        )
        meta = created.get("metadata") or {}
        return Outcome(
            "created",
            resource.qualified,
            namespace,
            str(meta.get("name") or ""),
            object=self.clean(resource, created),
        )

    def delete(
        self,
        ctx: ContextInfo,
        client: ApiClient,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool,
    ) -> Outcome:
        self.existing(ctx, client, resource, namespace, name)
        api.call_json(
            client,
            "DELETE",
            resource.path(namespace, name),
            {"dryRun": "All" if dry_run else None, "propagationPolicy": "Background"},
            timeout=self.timeout,
        )
        return Outcome("deleted", resource.qualified, namespace, name)

    def manifest_kind(self, ctx: ContextInfo, obj: Mapping[str, Any]) -> ResourceType:
        group, version = _group_version(str(obj["apiVersion"]))
        return self.kind(ctx, str(obj["kind"]), group or "core", version)

    def apply_one(
        self,
        ctx: ContextInfo,
        client: ApiClient,
        obj: dict[str, Any],
        namespace: str | None,
        *,
        dry_run: bool,
        force: bool,
    ) -> Outcome:
        """Server-side apply of one object; a conflict names the fields and their managers."""
        resource = self.manifest_kind(ctx, obj)
        meta = obj.setdefault("metadata", {})
        name = str(meta.get("name") or "")
        check_path_name(name)
        ns = self.namespace_for(ctx, resource, meta.get("namespace") or namespace)
        if ns:
            meta["namespace"] = ns
        before = self.get(client, resource, ns, name)
        query = {"dryRun": "All" if dry_run else None, "fieldManager": FIELD_MANAGER, "force": force or None}
        try:
            after = api.call_json(
                client,
                "PATCH",
                resource.path(ns, name),
                query,
                body=obj,
                content_type=APPLY,
                timeout=self.timeout,
            )
        except Exception as exc:
            if getattr(exc, "status", None) != 409:
                raise
            return Outcome("conflict", resource.qualified, ns, name, error=conflict_message(exc))
        if before is None:
            return Outcome("created", resource.qualified, ns, name, object=self.clean(resource, after))
        return self.compared(resource, ns, name, before, after)


def conflict_message(exc: BaseException) -> str:
    """'conflicts: .spec.replicas (managed by kubectl-client-side-apply); pass force=true to take them'."""
    try:
        status = orjson.loads(getattr(exc, "body", None) or b"{}")
    except orjson.JSONDecodeError:
        status = {}
    causes = (status.get("details") or {}).get("causes") or []
    fields = [
        f"{c.get('field')} ({c.get('message', '').split(' using ')[0].removeprefix('conflict with ')})"
        for c in causes
        if c.get("field")
    ]
    listed = "; ".join(fields) if fields else str(status.get("message") or "conflict")
    return f"apply conflicts with other field managers: {listed}; pass force=true to take these fields"


def _replicas_said(scale: Raw) -> Raw:
    """A Scale object of 0 replicas leaves `spec.replicas` out (omitempty): say 0, so scaling to
    zero reads `3 -> 0`, not a removed field."""
    spec = dict(scale.get("spec") or {})
    spec.setdefault("replicas", 0)
    return {**scale, "spec": spec}


__all__ = [
    "FIELD_MANAGER",
    "PROTECTED_NAMESPACES",
    "ObjectWriter",
    "Outcome",
    "WriteResult",
    "conflict_message",
]
