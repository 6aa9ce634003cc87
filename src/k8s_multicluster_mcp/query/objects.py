"""The query layer for any kind a cluster serves (CRDs included), always live.

Pods, deployments, nodes and namespaces are answered by `query.ClusterState` (and so, in --watch
mode, by the cache); everything else comes here: discovery says what the user's word names in each
cluster, then the objects are read in the same parallel fan-out, under the same deadlines and
per-cluster bound as any live list (`sources.fanout`), with a `ClusterReport` per cluster. Lists
are read as the API server's own tables (the columns `kubectl get` prints, CRDs'
additionalPrinterColumns included); whole objects leave only through the `Redactor`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from k8s_multicluster_mcp.common.clock import age, parse_time, utcnow
from k8s_multicluster_mcp.common.errors import (
    ClusterApiError,
    ClusterError,
    NotFoundError,
    UnknownKindError,
    UserError,
)
from k8s_multicluster_mcp.common.names import check_namespace, check_path_name
from k8s_multicluster_mcp.common.selectors import parse_selector
from k8s_multicluster_mcp.common.text import format_names
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.discovery import Discovery, ResourceType, check_word
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.records import Raw
from k8s_multicluster_mcp.model.redact import Redactor
from k8s_multicluster_mcp.query.results import (
    ClusterReport,
    ContextSpec,
    namespace_note,
    one_per_cluster,
    report_each,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

T = TypeVar("T")

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PAGE = 500
MAX_OBJECTS = 10
"""Objects read per cluster when a tool asks for several whole objects (describe without a name)."""
MAX_EVENTS = 20
"""Events shown with one object (describe, diagnose): the newest."""


NamespacesFor = Callable[[ContextInfo, str, str], "list[str] | None"]
"""`(context, API group, resource) -> namespaces`: where the caller may not read a kind in every
namespace (403), the namespaces to read it in instead ([]: none, the 403 stands), or None when it
does not know (no acting caller): then the context's own namespace (`context_namespace`). A
service that knows what each caller may list (SubjectAccessReview) passes its own."""


def context_namespace(ctx: ContextInfo, group: str, resource: str) -> list[str] | None:
    """Today's fallback, what kubectl does: the context's own namespace, when it names one (the
    rule `results.fallback_namespace` states for the lists)."""
    return [ctx.namespace] if ctx.namespace else None


class KindNotServedError(ClusterApiError):
    """This cluster serves no kind by that name (another cluster may)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=404)


@dataclass(frozen=True)
class TableRow:
    context: str
    namespace: str | None
    name: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class TableResult:
    """Rows of one kind from every cluster that answered, as the API servers print them."""

    kind: str
    namespaced: bool
    columns: tuple[str, ...]
    rows: Sequence[TableRow]
    clusters: Sequence[ClusterReport]
    total: int
    exact: bool = True
    """False when some cluster had more than was read and did not say how many."""
    unread: dict[str, int] = field(default_factory=dict)
    """Per cluster, how many rows were left unread (beyond `limit`), when it said."""


@dataclass(frozen=True)
class Found:
    """One object (cleaned for the model) from one cluster."""

    context: str
    type: ResourceType
    object: dict[str, Any]
    events: Sequence[dict[str, Any]] = ()
    events_error: str | None = None
    """Why the object's events could not be read (forbidden, timeout ...)."""


@dataclass(frozen=True)
class ObjectsResult:
    items: Sequence[Found]
    clusters: Sequence[ClusterReport] = field(default_factory=list)
    unread: dict[str, int] = field(default_factory=dict)
    """Per cluster, objects beyond the `limit` read (-1: some, the server did not say how many)."""


@dataclass(frozen=True)
class _Page:
    type: ResourceType
    columns: tuple[str, ...]
    rows: list[TableRow]
    more: int | None
    """Rows not read: a count, -1 when unknown, None when none."""
    as_of: datetime
    note: str | None = None


@dataclass(frozen=True)
class _Objects:
    items: list[Found]
    note: str | None = None
    unread: int = 0


class ObjectReader:
    """Reads of any kind across clusters, live, with provenance."""

    def __init__(
        self,
        registry: ContextRegistry,
        fanout: Fanout,
        redactor: Redactor | None = None,
        discovery: Discovery | None = None,
        namespaces_for: NamespacesFor = context_namespace,
    ) -> None:
        self.registry = registry
        self.fanout = fanout
        self.redactor = redactor or Redactor()
        self.discovery = discovery or Discovery()
        self.namespaces_for = namespaces_for
        """Where to read a kind the caller may not read in every namespace (`NamespacesFor`)."""

    @property
    def timeout(self) -> float:
        return self.fanout.timeout

    def client(self, ctx: ContextInfo) -> ApiClient:
        return self.registry.api_client(ctx)

    def kind(
        self, ctx: ContextInfo, word: str, group: str | None = None, version: str | None = None
    ) -> ResourceType:
        """The kind `word` names in `ctx` (inside a fan-out call: an unknown kind is this
        cluster's `KindNotServedError`)."""
        try:
            return self.discovery.resolve(ctx.name, self.client(ctx), self.timeout, word, group, version)
        except UnknownKindError as exc:
            raise KindNotServedError(str(exc)) from exc

    def run(
        self, context: ContextSpec, fn: Callable[[ContextInfo, deadlines.Deadline], T], *, what: str
    ) -> tuple[list[ContextInfo], dict[str, T | ClusterError]]:
        """`fn` for every selected context; when no cluster that answered serves the kind asked,
        the one-line `UnknownKindError` is raised instead (naming the clusters not asked)."""
        contexts = self.registry.resolve(context)
        answers = self.fanout.run(contexts, fn, what=what)
        errors = [a for a in answers.values() if isinstance(a, KindNotServedError)]
        others = {
            n: a
            for n, a in answers.items()
            if isinstance(a, ClusterError) and not isinstance(a, KindNotServedError)
        }
        if errors and len(errors) + len(others) == len(answers):
            unasked = "; ".join(f"{n}: {a.status}" for n, a in others.items())
            raise UnknownKindError(errors[0].message + (f" (not asked: {unasked})" if unasked else ""))
        return contexts, answers

    def types(
        self, context: ContextSpec
    ) -> tuple[list[ContextInfo], dict[str, list[ResourceType] | ClusterError]]:
        """Every kind each selected cluster serves."""
        return self.run(
            context,
            lambda ctx, _: self.discovery.types(ctx.name, self.client(ctx), self.timeout, refresh=True),
            what="API discovery",
        )

    def table(
        self,
        word: str,
        context: ContextSpec = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        *,
        field_selector: str | None = None,
        limit: int = 100,
        wide: bool = False,
        group: str | None = None,
        version: str | None = None,
    ) -> TableResult:
        """Up to `limit` rows of the kind `word` names, from each selected cluster."""
        check_word(word)
        selector = parse_selector(label_selector)
        scope = check_namespace(namespace)
        query = {"labelSelector": str(selector) if selector else None, "fieldSelector": field_selector}

        def read(ctx: ContextInfo, deadline: deadlines.Deadline) -> _Page:
            resource = self.kind(ctx, word, group, version)
            page, note = self._in_scope(
                ctx,
                resource,
                scope,
                lambda ns: self._table_pages(ctx, resource, ns, query, limit, wide, deadline),
                lambda pages: _merge_pages(pages, limit),
            )
            return replace(page, note=note) if note else page

        contexts, answers, also = _once(*self.run(context, read, what=f"the list of {word}"))
        pages = [a for a in answers.values() if isinstance(a, _Page)]
        first = pages[0].type if pages else None
        columns = next((p.columns for p in pages if p.rows), pages[0].columns if pages else ("NAME",))
        rows: list[TableRow] = []
        total, exact = 0, True
        for page in pages:
            rows.extend(_fit(row, page.columns, columns) for row in page.rows)
            total += len(page.rows) + max(page.more or 0, 0)
            exact = exact and page.more != -1
        reports = _reports(
            contexts, answers, lambda p: len(p.rows), lambda p: p.as_of, lambda p: p.note, also
        )
        return TableResult(
            kind=first.qualified if first else word,
            namespaced=first.namespaced if first else True,
            columns=columns,
            rows=rows,
            clusters=reports,
            total=total,
            exact=exact,
            unread={p.rows[0].context: p.more for p in pages if p.rows and p.more and p.more > 0},
        )

    def _table_pages(
        self,
        ctx: ContextInfo,
        resource: ResourceType,
        namespace: str | None,
        query: dict[str, str | None],
        limit: int,
        wide: bool,
        deadline: deadlines.Deadline,
    ) -> _Page:
        started = utcnow()
        if "list" not in resource.verbs and resource.verbs:
            raise ClusterApiError(
                f"{resource.qualified} cannot be listed (verbs: {', '.join(resource.verbs)})"
            )
        client = self.client(ctx)
        columns: tuple[str, ...] = ()
        keep: list[int] = []
        dates: set[int] = set()
        rows: list[TableRow] = []
        token: str | None = None
        while True:
            if deadline.expired:
                raise ClusterApiError("deadline passed between pages")
            body = api.get_json(
                client,
                resource.path(namespace),
                {**query, "limit": min(PAGE, limit - len(rows)), "continue": token},
                accept=TABLE,
                timeout=self.timeout,
            )
            if body.get("kind") == "Table":
                if not columns:
                    definitions = body.get("columnDefinitions") or []
                    keep = [i for i, c in enumerate(definitions) if wide or not c.get("priority")]
                    dates = {
                        i
                        for i in keep
                        if "date" in (definitions[i].get("type"), definitions[i].get("format"))
                    }
                    columns = tuple(
                        "AGE"
                        if i in dates and definitions[i].get("name") == "Created At"
                        else str(definitions[i].get("name") or "").upper()
                        for i in keep
                    )
                for row in body.get("rows") or ():
                    meta = ((row.get("object") or {}).get("metadata")) or {}
                    cells = row.get("cells") or []
                    rows.append(
                        TableRow(
                            ctx.name,
                            meta.get("namespace") if resource.namespaced else None,
                            str(meta.get("name") or (cells[0] if cells else "")),
                            tuple(_cell(cells[i] if i < len(cells) else None, i in dates) for i in keep),
                        )
                    )
            else:
                columns = ("NAME", "AGE")
                for item in body.get("items") or ():
                    meta = item.get("metadata") or {}
                    rows.append(
                        TableRow(
                            ctx.name,
                            meta.get("namespace") if resource.namespaced else None,
                            str(meta.get("name") or ""),
                            (str(meta.get("name") or ""), _cell(meta.get("creationTimestamp"), True)),
                        )
                    )
            meta = body.get("metadata") or {}
            previous, token = token, meta.get("continue") or None
            if not token:
                return _Page(resource, columns, rows, None, started)
            if token == previous:
                raise ClusterApiError("the API server returned the same continue token twice")
            if len(rows) >= limit:
                remaining = meta.get("remainingItemCount")
                return _Page(resource, columns, rows, int(remaining) if remaining else -1, started)

    def get(
        self,
        word: str,
        name: str | None,
        context: ContextSpec = None,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        limit: int = MAX_OBJECTS,
        group: str | None = None,
        version: str | None = None,
        events: bool = False,
    ) -> ObjectsResult:
        """The object `name` of the kind `word` from every selected cluster that has it (in
        every namespace when none is given), or without a name up to `limit` objects per cluster
        matching `label_selector`; `events`: each with its newest events."""
        check_word(word)
        if name is not None:
            check_path_name(name)
        selector = parse_selector(label_selector)
        scope = check_namespace(namespace)

        def read(ctx: ContextInfo, deadline: deadlines.Deadline) -> _Objects:
            resource = self.kind(ctx, word, group, version)
            text = str(selector) if selector else None
            (objects, unread), note = self._in_scope(
                ctx,
                resource,
                scope,
                lambda ns: self._objects(ctx, resource, name, ns, text, limit),
                lambda parts: _merge_objects(parts, limit),
            )
            found = []
            for obj in objects:
                seen, why = self._events(ctx, obj) if events and not deadline.expired else ([], None)
                found.append(
                    Found(ctx.name, resource, self.redactor.clean(obj, secret=resource.is_secret), seen, why)
                )
            return _Objects(found, note, unread)

        contexts, answers, also = _once(
            *self.run(context, read, what=f"reading {word} {name or ''}".rstrip())
        )
        found = [f for a in answers.values() if isinstance(a, _Objects) for f in a.items]
        reports = _reports(
            contexts, answers, lambda a: len(a.items), lambda _: utcnow(), lambda a: a.note, also
        )
        if name is not None and not found and all(r.status == "ok" for r in reports):
            where = f" in namespace {namespace!r}" if scope else ""
            raise NotFoundError(
                f"{word} {name!r} not found{where} in: {format_names([c.name for c in contexts])}"
            )
        unread = {n: a.unread for n, a in answers.items() if isinstance(a, _Objects) and a.unread}
        return ObjectsResult(found, reports, unread)

    def _in_scope(
        self,
        ctx: ContextInfo,
        resource: ResourceType,
        namespace: str | None,
        read: Callable[[str | None], T],
        merge: Callable[[list[T]], T],
    ) -> tuple[T, str | None]:
        """`read(namespace)`; where reading every namespace is forbidden, `read` of each namespace
        `namespaces_for` names, `merge`d, with a note saying so (what kubectl does for a user
        confined to a namespace)."""
        try:
            return read(namespace), None
        except Exception as exc:
            if getattr(exc, "status", None) != 403 or not resource.namespaced or namespace is not None:
                raise
            namespaces = self.namespaces_for(ctx, resource.group, resource.plural)
            if namespaces is None:
                namespaces = context_namespace(ctx, resource.group, resource.plural)
            if not namespaces:
                raise
        return merge([read(ns) for ns in namespaces]), namespace_note(namespaces, "read", resource.qualified)

    def _objects(
        self,
        ctx: ContextInfo,
        resource: ResourceType,
        name: str | None,
        namespace: str | None,
        selector: str | None,
        limit: int,
    ) -> tuple[list[Raw], int]:
        """The objects, and how many more the list holds beyond `limit` (-1: some)."""
        client = self.client(ctx)
        if name is not None and (namespace or not resource.namespaced):
            found = api.find_json(client, resource.path(namespace, name), timeout=self.timeout)
            return ([found] if found is not None else []), 0
        query: dict[str, str | int | None] = {"labelSelector": selector, "limit": limit}
        if name is not None:
            query["fieldSelector"] = f"metadata.name={name}"
        body = api.get_json(client, resource.path(namespace), query, timeout=self.timeout)
        meta = body.get("metadata") or {}
        unread = int(meta.get("remainingItemCount") or -1) if meta.get("continue") else 0
        kind = resource.kind
        items: list[Raw] = [
            {"apiVersion": resource.api_version, "kind": kind, **item} for item in body.get("items") or ()
        ]
        return items, unread

    def _events(self, ctx: ContextInfo, obj: Raw) -> tuple[list[dict[str, Any]], str | None]:
        """The newest events about `obj` (by uid), cleaned; or why they could not be read (the
        object is still shown: its events are extra)."""
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return [], None
        path = f"/api/v1/namespaces/{meta['namespace']}/events" if meta.get("namespace") else "/api/v1/events"
        try:
            body = api.get_json(
                self.client(ctx),
                path,
                {"fieldSelector": f"involvedObject.uid={uid}", "limit": 500},
                timeout=self.timeout,
            )
        except Exception as exc:
            from k8s_multicluster_mcp.kube.apierrors import classify

            error = classify(exc)
            return [], f"{error.status}: {error.message}"
        items = sorted(body.get("items") or (), key=event_time, reverse=True)[:MAX_EVENTS]
        return [self.redactor.clean(e) for e in items], None

    def call(
        self, context: ContextSpec, fn: Callable[[ContextInfo, deadlines.Deadline], T], *, what: str
    ) -> tuple[list[ContextInfo], dict[str, T | ClusterError], list[ClusterReport]]:
        """`fn` per selected cluster, with reports (count 1 per answer)."""
        contexts, answers = self.run(context, fn, what=what)
        return contexts, answers, _reports(contexts, answers, lambda _: 1, lambda _: utcnow())

    def raw(
        self, ctx: ContextInfo, path: str, query: api.Query | None = None, *, accept: str = "*/*"
    ) -> bytes:
        """GET one path of `ctx`'s API server, inside a fan-out call (`run`, `call`): logs and
        the metrics API, which are not objects."""
        return api.get(self.client(ctx), path, query, accept=accept, timeout=self.timeout)

    def one(self, context: ContextSpec, tool: str) -> ContextInfo:
        """The single context a one-object tool works on."""
        contexts = self.registry.resolve(context)
        if len(contexts) != 1:
            raise UserError(
                f"{tool} works on one context; {len(contexts)} match: "
                f"{format_names([c.name for c in contexts])}"
            )
        return contexts[0]


def event_time(event: Raw) -> str:
    """When an event last happened, as sortable text (series, lastTimestamp, eventTime, created)."""
    series = event.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _cell(value: Any, date: bool) -> str:
    if value is None:
        return "<none>"
    if date and isinstance(value, str):
        when = parse_time(value)
        return age(when) if when else value
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "<none>"
    return str(value)


def _fit(row: TableRow, have: tuple[str, ...], want: tuple[str, ...]) -> TableRow:
    """`row` with its cells in the columns `want` (clusters on other versions print others)."""
    if have == want:
        return row
    by_name = dict(zip(have, row.cells, strict=False))
    return TableRow(row.context, row.namespace, row.name, tuple(by_name.get(c, "") for c in want))


def _merge_pages(pages: list[_Page], limit: int) -> _Page:
    """One cluster's table from the pages of several namespaces, at most `limit` rows."""
    first = pages[0]
    if len(pages) == 1:
        return first
    rows = [row for page in pages for row in page.rows]
    more = _more([page.more or 0 for page in pages], len(rows) - limit)
    columns = next((page.columns for page in pages if page.rows), first.columns)
    return _Page(first.type, columns, rows[:limit], more or None, min(page.as_of for page in pages))


def _merge_objects(parts: list[tuple[list[Raw], int]], limit: int) -> tuple[list[Raw], int]:
    """One cluster's objects from several namespaces, at most `limit`, and how many more."""
    items = [item for found, _ in parts for item in found]
    return items[:limit], _more([unread for _, unread in parts], len(items) - limit)


def _more(unread: list[int], over: int) -> int:
    """Items left unread in all: -1 (some, how many unknown) when any part says so."""
    if -1 in unread:
        return -1
    return sum(unread) + max(over, 0)


def _once(
    contexts: list[ContextInfo], answers: dict[str, T | ClusterError]
) -> tuple[list[ContextInfo], dict[str, T | ClusterError], dict[str, tuple[str, ...]]]:
    """The contexts that answer for their cluster (`one_per_cluster`: several asked contexts
    reaching one cluster list it once), their answers, and whom each stands for."""
    narrowed = {n for n, a in answers.items() if getattr(a, "note", None)}
    kept, also = one_per_cluster(contexts, answers, narrowed)
    return kept, {c.name: answers[c.name] for c in kept if c.name in answers}, also


def _reports(
    contexts: Sequence[ContextInfo],
    answers: dict[str, Any],
    count: Callable[[Any], int],
    as_of: Callable[[Any], datetime],
    note: Callable[[Any], str | None] = lambda _: None,
    also: Mapping[str, tuple[str, ...]] | None = None,
) -> list[ClusterReport]:
    """Reports of live answers: `count`, `as_of` and `note` read off each."""
    stands_for = also or {}
    return [
        replace(r, also=stands_for[r.context]) if stands_for.get(r.context) else r
        for r in report_each(
            contexts,
            answers,
            lambda ctx, a: ClusterReport(ctx.name, "ok", "live", as_of(a), count=count(a), note=note(a)),
        )
    ]
