"""The cluster the server runs in, as one more context: its service account's token and CA.

In a pod, `KUBERNETES_SERVICE_HOST`/`_PORT` name the API server and the service account is
mounted at `SERVICE_ACCOUNT_DIR` (token, ca.crt, namespace). That is made into a kubeconfig entry
(server, `certificate-authority`, `tokenFile`) read like any file's, so every tool, `check` and
`k8s_get_contexts` show it as a context (`in-cluster` unless `--in-cluster-context` names it).

The projected token rotates (the kubelet swaps the file about every 48 minutes): the context's
`file` is the token itself, so the registry's per-context client, keyed by that file's mtime and
size, is rebuilt with the new token on the first call after a swap; a token is never used past its
file's change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from k8s_multicluster_mcp.kube.kubeconfig import ParsedFile, contexts_of, file_fingerprint
from k8s_multicluster_mcp.model.contexts import ContextInfo, FileProblem

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_NAME = "in-cluster"


def in_cluster(
    name: str, environ: Mapping[str, str] = os.environ, directory: Path = SERVICE_ACCOUNT_DIR
) -> tuple[ContextInfo, ParsedFile] | FileProblem | None:
    """The in-cluster context and its kubeconfig entry; a `FileProblem` when the pod's service
    account is mounted but unusable; None outside a pod (or with no service account mounted)."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    token = directory / "token"
    if not host or not token.is_file():
        return None
    fingerprint = file_fingerprint(token)
    ca = directory / "ca.crt"
    if fingerprint is None or not ca.is_file():
        return FileProblem(directory, "in-cluster service account has no readable token or ca.crt")
    host = f"[{host}]" if ":" in host else host
    try:
        namespace = (directory / "namespace").read_text().strip() or None
    except OSError:
        namespace = None
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": f"https://{host}:{port}", "certificate-authority": str(ca)}}
        ],
        "users": [{"name": name, "user": {"tokenFile": str(token)}}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }
    problems: list[FileProblem] = []
    found = contexts_of(token, config, problems)
    if not found:
        return problems[0] if problems else None
    return found[0], ParsedFile(token, fingerprint, config, None)


__all__ = ["DEFAULT_NAME", "SERVICE_ACCOUNT_DIR", "in_cluster"]
