"""A fake `ClusterSource` for the query layer's unit tests, and the pods it serves: one table-driven
source, so the `fetch` signature of `sources.base.ClusterSource` is written once in the tests and a
test that needs another answer overrides `answer` for one context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from k8s_multicluster_mcp.common.errors import ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.common.selectors import LabelSelector
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Record, namespace_record, pod_record
from k8s_multicluster_mcp.sources.base import CacheStatus, Keeps, Snapshot

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def pod(context: str, namespace: str, name: str, status: str = "running", **labels: str) -> Record:
    """A pod created an hour before `NOW`, running and ready or in a crash loop."""
    states: dict[str, Any] = {
        "running": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}]},
        "crashloop": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 3,
                      "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]},
    }  # fmt: skip
    raw = {"metadata": {"name": name, "namespace": namespace, "labels": labels,
                        "creationTimestamp": "2026-12-01T11:00:00Z"},
           "spec": {"containers": [{"name": "app", "image": "w"}]}, "status": states[status]}  # fmt: skip
    return pod_record(context, raw)


class FakeSource:
    """Answers from a table: context -> pods, or the error that context gives; records what was
    asked (each context with its namespace, and each question's pod filter) so a test can see the
    fallback's second question or what reached the source."""

    def __init__(self, answers: dict[str, list[Record] | ClusterError], *, stale: frozenset[str] = frozenset(),
                 forbidden_cluster_wide: frozenset[str] = frozenset()) -> None:  # fmt: skip
        self.answers = answers
        self.stale = stale
        self.forbidden_cluster_wide = forbidden_cluster_wide
        self.asked: list[tuple[str, str | None]] = []
        self.filters: list[PodFilter | None] = []

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        self.filters.append(pod_filter)
        out: dict[str, Snapshot | ClusterError] = {}
        for ctx in contexts:
            self.asked.append((ctx.name, namespace))
            out[ctx.name] = self.answer(ctx.name, kind, namespace, pod_filter)
        return out

    def answer(
        self, context: str, kind: Kind, namespace: str | None, pod_filter: PodFilter | None
    ) -> Snapshot | ClusterError:
        """One context's answer from the table (every pod: this source does not narrow)."""
        answer = self.answers[context]
        if isinstance(answer, ClusterError):
            return answer
        if context in self.forbidden_cluster_wide and namespace is None:
            return ClusterForbiddenError("pods is forbidden at the cluster scope")
        stale = context in self.stale
        return Snapshot(context, kind, tuple(answer), NOW, "cache", stale=stale,
                        note="watch down since 11:58 (unreachable)" if stale else None)  # fmt: skip

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def cache_status(self) -> CacheStatus | None:
        return None


def namespace_source(names: dict[str, tuple[str, ...]]) -> FakeSource:
    """A source whose namespace list of each context is `names[context]`."""
    return FakeSource({
        ctx: [namespace_record(ctx, {"metadata": {"name": n}}) for n in listed] for ctx, listed in names.items()
    })  # fmt: skip
