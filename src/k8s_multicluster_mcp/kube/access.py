"""May this user list that? One SubjectAccessReview, asked with the server's own identity.

The shared cache is read with the server's identity; what each caller may see of it is what the
cluster's RBAC says that caller may `list`. A SubjectAccessReview asks the API server exactly
that for a user and groups without acting as them (the server's identity needs `create` on
`subjectaccessreviews`, which `system:auth-delegator` grants). Errors are raised as the client's
exceptions, which `Fanout` classifies like any other call's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from k8s_multicluster_mcp.kube import impersonation
from k8s_multicluster_mcp.kube.api import call_json

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Review:
    """One question: may `user` (with `groups`) `verb` `group`/`resource` in `namespace` (None:
    across all namespaces, or a cluster-scoped resource)?"""

    user: str
    groups: tuple[str, ...]
    verb: str
    group: str
    resource: str
    namespace: str | None = None

    def body(self) -> dict[str, object]:
        attributes: dict[str, str] = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.namespace:
            attributes["namespace"] = self.namespace
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": self.user, "groups": list(self.groups), "resourceAttributes": attributes},
        }


def allowed(client: ApiClient, review: Review, *, timeout: float) -> bool:
    """Whether the cluster allows `review` (its `status.allowed`; a denial or no opinion: False).
    Sent with the server's identity even inside a caller's request: the caller may not create
    reviews, and a request of this thread otherwise acts as its caller."""
    with impersonation.as_server():
        answer = call_json(client, "POST", PATH, body=review.body(), timeout=timeout)
    status = answer.get("status")
    return isinstance(status, dict) and status.get("allowed") is True


__all__ = ["PATH", "Review", "allowed"]
