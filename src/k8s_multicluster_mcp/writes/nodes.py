"""The nodes toolset's operations: cordon, uncordon, taint, untaint, and drain through the Eviction
API (PodDisruptionBudgets respected; pods that would lose data only when asked)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from k8s_multicluster_mcp.common import progress
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.names import check_name
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.manifests import check_labels
from k8s_multicluster_mcp.model.records import Raw
from k8s_multicluster_mcp.query.results import ContextSpec
from k8s_multicluster_mcp.writes.writer import ObjectWriter, Outcome, WriteResult

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


MIRROR = "kubernetes.io/config.mirror"


def cordon(
    w: ObjectWriter, context: ContextSpec, node: str, unschedulable: bool, dry_run: bool
) -> WriteResult:
    check_name(node, "node")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        body = {"spec": {"unschedulable": True if unschedulable else None}}
        return [w.patch(c, cl, w.kind(c, "nodes"), None, node, body, dry_run=dry_run)]

    return w.run(context, "k8s_cordon_node" if unschedulable else "k8s_uncordon_node", run, dry_run=dry_run)


EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def taint(
    w: ObjectWriter,
    context: ContextSpec,
    node: str,
    key: str,
    value: str | None,
    effect: str | None,
    remove: bool,
    dry_run: bool,
) -> WriteResult:
    """Add (or replace, same key and effect) or remove a node taint; the patch carries the node's
    resourceVersion, so a concurrent change makes it fail instead of losing that change."""
    check_name(node, "node")
    check_labels({key: value}, "taint")
    if effect is not None and effect not in EFFECTS:
        raise UserError(f"effect {shown(effect)} is not one of {', '.join(EFFECTS)}")
    if not remove and effect is None:
        effect = "NoSchedule"

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "nodes")
        before = w.existing(c, cl, resource, None, node)
        taints = list((before.get("spec") or {}).get("taints") or [])
        keep = [
            t for t in taints if not (t.get("key") == key and (effect is None or t.get("effect") == effect))
        ]
        if remove and len(keep) == len(taints):
            now = ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints) or "none"
            raise UserError(
                f"node {node!r} has no taint {key}{':' + effect if effect else ''}; its taints: {now}"
            )
        if not remove:
            keep.append({"key": key, **({"value": value} if value else {}), "effect": effect})
        body = {
            "metadata": {"resourceVersion": (before.get("metadata") or {}).get("resourceVersion")},
            "spec": {"taints": keep or None},
        }
        return [w.patch(c, cl, resource, None, node, body, dry_run=dry_run, before=before)]

    return w.run(context, "k8s_untaint_node" if remove else "k8s_taint_node", run, dry_run=dry_run)


def drain(
    w: ObjectWriter,
    context: ContextSpec,
    node: str,
    force: bool,
    delete_local_data: bool,
    timeout: float,
    dry_run: bool,
) -> WriteResult:
    """Cordon, then evict every pod through the Eviction API (PodDisruptionBudgets respected: a
    429 is retried until `timeout`), skipping DaemonSet and mirror pods; pods with local storage
    (emptyDir) need `delete_local_data`, pods no controller would recreate need `force`. Then,
    like kubectl drain, wait (within the same `timeout`) until every evicted pod is gone: an
    eviction only starts a graceful deletion."""
    check_name(node, "node")
    if not 1 <= timeout <= 600:
        raise UserError(f"timeout must be between 1 and 600 seconds, got {timeout:g}")

    def run(c: ContextInfo, cl: ApiClient, deadline: deadlines.Deadline) -> list[Outcome]:
        nodes = w.kind(c, "nodes")
        pods = w.kind(c, "pods")
        outcomes = [w.patch(c, cl, nodes, None, node, {"spec": {"unschedulable": True}}, dry_run=dry_run)]
        listed = api.get_json(
            cl, "/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"}, timeout=w.timeout
        )
        pending: list[Raw] = []
        for pod in listed.get("items") or ():
            meta = pod.get("metadata") or {}
            ns, name = str(meta.get("namespace")), str(meta.get("name"))
            owners = meta.get("ownerReferences") or []
            controller = next((o for o in owners if o.get("controller")), None)
            reason = None
            if MIRROR in (meta.get("annotations") or {}):
                reason = "mirror pod (managed by the kubelet)"
            elif controller and controller.get("kind") == "DaemonSet":
                reason = "DaemonSet pod (its controller ignores cordons)"
            elif (
                any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or ())
                and not delete_local_data
            ):
                reason = (
                    "has local storage (emptyDir); pass delete_local_data=true to evict it and lose that data"
                )
            elif controller is None and not force:
                reason = "no controller would recreate it; pass force=true to evict it anyway"
            if reason:
                outcomes.append(Outcome("skipped", pods.qualified, ns, name, detail=reason))
            else:
                pending.append(pod)
        started = time.monotonic()
        stop = started + timeout
        evicted: list[tuple[int, str, str, str]] = []
        told, total = progress.phase(len(pending)), len(pending)
        done_word = "would evict" if dry_run else "evicted"
        while pending:
            waiting: list[tuple[Raw, str]] = []
            for pod in pending:
                meta = pod["metadata"]
                ns, name = meta["namespace"], meta["name"]
                body = {
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": name, "namespace": ns},
                }
                try:
                    api.call_json(
                        cl,
                        "POST",
                        pods.path(ns, name) + "/eviction",
                        {"dryRun": "All" if dry_run else None},
                        body=body,
                        timeout=w.timeout,
                    )
                    outcomes.append(Outcome("evicted", pods.qualified, ns, name))
                    evicted.append((len(outcomes) - 1, ns, name, str(meta.get("uid") or "")))
                    if told is not None:
                        told.step(len(evicted), f"{done_word} {ns}/{name} ({len(evicted)} of {total})")
                except Exception as exc:
                    status = getattr(exc, "status", None)
                    if status == 404:
                        outcomes.append(Outcome("gone", pods.qualified, ns, name))
                    elif status == 429:
                        waiting.append((pod, _status_message(exc)))
                    else:
                        raise
            if not waiting:
                break
            if time.monotonic() >= stop or deadline.expired:
                for pod, why in waiting:
                    meta = pod["metadata"]
                    outcomes.append(
                        Outcome(
                            "not evicted",
                            pods.qualified,
                            meta["namespace"],
                            meta["name"],
                            error=f"{why} (retried for {timeout:g}s)",
                        )
                    )
                break
            pending = [p for p, _ in waiting]
            time.sleep(min(1.0, max(0.0, stop - time.monotonic())))
        if not dry_run:
            _wait_until_gone(w, cl, pods, outcomes, evicted, started, stop, deadline)
        return outcomes

    return w.run(context, "k8s_drain_node", run, dry_run=dry_run, budget=timeout + w.timeout * 3)


def _wait_until_gone(
    w: ObjectWriter,
    cl: ApiClient,
    pods: ResourceType,
    outcomes: list[Outcome],
    evicted: list[tuple[int, str, str, str]],
    started: float,
    stop: float,
    deadline: deadlines.Deadline,
) -> None:
    """Say of each evicted pod when it was gone (deleted, or replaced by a pod of another uid), or
    that it was still terminating when the time ran out."""
    while evicted:
        still = []
        for index, ns, name, uid in evicted:
            found = api.find_json(cl, pods.path(ns, name), timeout=w.timeout)
            if found is None or (found.get("metadata") or {}).get("uid") != uid:
                detail = f"gone after {time.monotonic() - started:.0f}s"
                outcomes[index] = replace(outcomes[index], detail=detail)
            else:
                still.append((index, ns, name, uid))
        evicted = still
        if not evicted or time.monotonic() >= stop or deadline.expired:
            break
        time.sleep(min(0.5, max(0.0, stop - time.monotonic())))
    for index, *_ in evicted:
        outcomes[index] = replace(outcomes[index], detail=f"still terminating after {stop - started:g}s")


def _status_message(exc: BaseException) -> str:
    from k8s_multicluster_mcp.kube.apierrors import classify

    return classify(exc).message.removeprefix("HTTP 429: ")
