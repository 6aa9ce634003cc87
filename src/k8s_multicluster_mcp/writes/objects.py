"""The write toolset's operations on objects of any kind: create, apply, patch, delete, labels
and annotations, namespaces, secrets, configmaps, expose, run. Each is one `ObjectWriter.run` on
one context: what to read, what to write, and what to refuse (protected namespaces)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.names import check_name, check_path_name
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.manifests import check_labels, parse_manifests, secret_body
from k8s_multicluster_mcp.query.results import ContextSpec
from k8s_multicluster_mcp.writes.writer import PROTECTED_NAMESPACES, ObjectWriter, Outcome, WriteResult

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def _protect(name: str) -> None:
    if name in PROTECTED_NAMESPACES:
        raise UserError(
            f"namespace {name!r} is protected and cannot be deleted ({', '.join(PROTECTED_NAMESPACES)})"
        )


def create_namespace(
    w: ObjectWriter, context: ContextSpec, name: str, labels: Mapping[str, str] | None, dry_run: bool
) -> WriteResult:
    check_name(name, "namespace")
    check_labels(labels or {})
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"labels": dict(labels)} if labels else {})},
    }
    return w.run(
        context,
        "k8s_create_ns",
        lambda c, cl, _: [w.create(cl, w.kind(c, "namespaces"), None, body, dry_run=dry_run)],
        dry_run=dry_run,
    )


def delete_namespace(w: ObjectWriter, context: ContextSpec, name: str, dry_run: bool) -> WriteResult:
    check_name(name, "namespace")
    _protect(name)
    return w.run(
        context,
        "k8s_delete_ns",
        lambda c, cl, _: [w.delete(c, cl, w.kind(c, "namespaces"), None, name, dry_run=dry_run)],
        dry_run=dry_run,
    )


def create_resources(
    w: ObjectWriter, context: ContextSpec, manifest: str, namespace: str | None, dry_run: bool
) -> WriteResult:
    objects = parse_manifests(manifest)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        outcomes = []
        for obj in objects:
            resource = w.manifest_kind(c, obj)
            meta = obj["metadata"]
            ns = w.namespace_for(c, resource, meta.get("namespace") or namespace)
            if ns:
                meta["namespace"] = ns
            try:
                outcomes.append(w.create(cl, resource, ns, obj, dry_run=dry_run))
            except Exception as exc:
                outcomes.append(_failed(resource, ns, str(meta.get("name") or meta.get("generateName")), exc))
        return outcomes

    return w.run(context, "k8s_create_resource", run, dry_run=dry_run)


def apply_resources(
    w: ObjectWriter, context: ContextSpec, manifest: str, namespace: str | None, dry_run: bool, force: bool
) -> WriteResult:
    objects = parse_manifests(manifest)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        outcomes = []
        for obj in objects:
            try:
                outcomes.append(w.apply_one(c, cl, obj, namespace, dry_run=dry_run, force=force))
            except UserError:
                raise
            except Exception as exc:
                outcomes.append(
                    _failed(
                        None,
                        obj["metadata"].get("namespace"),
                        str(obj["metadata"].get("name")),
                        exc,
                        obj["kind"],
                    )
                )
        return outcomes

    return w.run(context, "k8s_apply_resource", run, dry_run=dry_run)


def _failed(
    resource: ResourceType | None, namespace: str | None, name: str, exc: Exception, kind: str = ""
) -> Outcome:
    from k8s_multicluster_mcp.kube.apierrors import classify

    return Outcome(
        "failed", resource.qualified if resource else kind, namespace, name, error=classify(exc).message
    )


def delete_resource(
    w: ObjectWriter, context: ContextSpec, word: str, name: str, namespace: str | None, dry_run: bool
) -> WriteResult:
    check_path_name(name)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        if resource.group == "" and resource.plural == "namespaces":
            _protect(name)
        return [w.delete(c, cl, resource, w.namespace_for(c, resource, namespace), name, dry_run=dry_run)]

    return w.run(context, "k8s_delete_resource", run, dry_run=dry_run)


def patch_resource(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    patch: Any,
    namespace: str | None,
    patch_type: str | None,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if isinstance(patch, str):
        try:
            patch = orjson.loads(patch)
        except orjson.JSONDecodeError as exc:
            raise UserError(f"patch is not JSON: {exc}") from exc
    kind = patch_type or ("json" if isinstance(patch, list) else "strategic")
    if (kind == "json") != isinstance(patch, list):
        raise UserError("a json patch is a list of operations; strategic and merge patches are objects")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        return [
            w.patch(
                c,
                cl,
                resource,
                w.namespace_for(c, resource, namespace),
                name,
                patch,
                patch_type=kind,
                dry_run=dry_run,
            )
        ]

    return w.run(context, "k8s_patch_resource", run, dry_run=dry_run)


def set_metadata(
    w: ObjectWriter,
    context: ContextSpec,
    tool: str,
    field: str,
    word: str,
    name: str,
    values: Mapping[str, str | None],
    namespace: str | None,
    overwrite: bool,
    dry_run: bool,
) -> WriteResult:
    """Labels or annotations: kubectl's rules (an existing key keeps its value unless overwrite)."""
    check_path_name(name)
    what = field[:-1]
    check_labels(values, what)
    if not values:
        raise UserError(f"no {field} given")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        before = w.existing(c, cl, resource, ns, name)
        current = (before.get("metadata") or {}).get(field) or {}
        clashes = [k for k, v in values.items() if v is not None and k in current and current[k] != v]
        if clashes and not overwrite:
            raise UserError(
                f"{what} {', '.join(map(repr, clashes))} already set to another value on "
                f"{resource.kind} {name!r}; "
                "pass overwrite=true to replace"
            )
        return [
            w.patch(
                c, cl, resource, ns, name, {"metadata": {field: dict(values)}}, dry_run=dry_run, before=before
            )
        ]

    return w.run(context, tool, run, dry_run=dry_run)


def expose(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    port: int,
    target_port: int | None,
    protocol: str | None,
    service_name: str | None,
    labels: Mapping[str, str] | None,
    selector: str | None,
    service_type: str | None,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if not 1 <= port <= 65535 or (target_port is not None and not 1 <= target_port <= 65535):
        raise UserError("ports must be between 1 and 65535")
    chosen = None
    if selector:
        chosen = {}
        for part in selector.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UserError(f"selector {shown(selector)}: use key=value pairs separated by commas")
            chosen[key.strip()] = value.strip()
    check_name(service_name or name, "service")
    check_labels(labels or {})

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        target = w.existing(c, cl, resource, ns, name)
        spec = target.get("spec") or {}
        found = chosen or (
            (spec.get("selector") or {}).get("matchLabels")
            if resource.kind != "Service"
            else spec.get("selector")
        )
        if resource.kind == "Pod":
            found = chosen or (target.get("metadata") or {}).get("labels")
        if not found:
            raise UserError(f"{resource.kind} {name!r} has no selector to expose; give selector")
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": service_name or name,
                "namespace": ns,
                **({"labels": dict(labels)} if labels else {}),
            },
            "spec": {
                "selector": dict(found),
                "type": service_type or "ClusterIP",
                "ports": [
                    {"port": port, "targetPort": target_port or port, "protocol": (protocol or "TCP").upper()}
                ],
            },
        }
        return [w.create(cl, w.kind(c, "services"), ns, service, dry_run=dry_run)]

    return w.run(context, "k8s_expose_resource", run, dry_run=dry_run)


def run_pod(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    image: str,
    namespace: str | None,
    command: Sequence[str] | None,
    env: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    restart: str,
    dry_run: bool,
) -> WriteResult:
    check_name(name, "pod")
    check_labels(labels or {})
    if not image.strip():
        raise UserError("image is required, e.g. busybox:1.36")
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "pods")
        ns = w.namespace_for(c, resource, namespace)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {"run": name})},
            "spec": {"containers": [container], "restartPolicy": restart},
        }
        return [w.create(cl, resource, ns, pod, dry_run=dry_run)]

    return w.run(context, "k8s_run_pod", run, dry_run=dry_run)


def create_secret(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    namespace: str | None,
    data: Mapping[str, str],
    secret_type: str,
    labels: Mapping[str, str] | None,
    dry_run: bool,
) -> WriteResult:
    """A Secret from `data`; the answer shows its keys and value sizes, never the values."""
    check_name(name, "secret")
    check_labels(labels or {})
    if not data:
        raise UserError("data is empty: give at least one key")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "secrets")
        ns = str(w.namespace_for(c, resource, namespace))
        return [w.create(cl, resource, ns, secret_body(name, ns, data, secret_type, labels), dry_run=dry_run)]

    return w.run(context, "k8s_create_secret_resource", run, dry_run=dry_run)


def create_configmap(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    namespace: str | None,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None,
    dry_run: bool,
) -> WriteResult:
    check_name(name, "configmap")
    check_labels(labels or {})

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "configmaps")
        ns = w.namespace_for(c, resource, namespace)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, **({"labels": dict(labels)} if labels else {})},
            "data": {k: str(v) for k, v in data.items()},
        }
        return [w.create(cl, resource, ns, body, dry_run=dry_run)]

    return w.run(context, "k8s_create_configmap_resource", run, dry_run=dry_run)
