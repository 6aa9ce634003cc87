"""One error hierarchy for everything that can go wrong.

`UserError` is raised for input the caller (a person or a model) got wrong: it always carries a
one-line message naming what was wrong and what is valid, and tools turn it into an MCP tool error
without a traceback. `ClusterError` is raised for one cluster failing to answer; the query layer
records it per cluster and keeps answering from the others.
"""

from __future__ import annotations

from typing import Literal

ClusterStatus = Literal["ok", "unreachable", "forbidden", "auth-error", "timeout", "stale", "error"]
"""How one cluster answered: `ok`, or why it did not."""


class K8sMcpError(Exception):
    """Base of every error this package raises on purpose."""


class UserError(K8sMcpError):
    """Bad input: unknown or ambiguous context, bad selector, unknown kind, bad argument."""


class ContextNotFoundError(UserError):
    """No context matches what was asked for."""


class AmbiguousContextError(UserError):
    """A partial context name matches more than one context."""


class NoContextsError(UserError):
    """No kubeconfig context is configured at all."""


class InvalidSelectorError(UserError):
    """A label selector that does not parse."""


class InvalidNameError(UserError):
    """A namespace or object name that breaks the Kubernetes naming rules."""


class UnknownKindError(UserError):
    """A resource kind this tool does not serve."""


class NotFoundError(UserError):
    """A named object does not exist in any selected cluster."""


class ClusterError(K8sMcpError):
    """One cluster did not answer; `status` says how (see `ClusterStatus`)."""

    status: ClusterStatus = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClusterUnreachableError(ClusterError):
    status: ClusterStatus = "unreachable"


class ClusterForbiddenError(ClusterError):
    status: ClusterStatus = "forbidden"


class ClusterAuthError(ClusterError):
    """Credentials missing, expired or rejected, or the exec/auth-provider plugin failed."""

    status: ClusterStatus = "auth-error"


class ClusterTimeoutError(ClusterError):
    status: ClusterStatus = "timeout"


class ClusterApiError(ClusterError):
    """Any other API failure (bad request, server error, not found)."""

    status: ClusterStatus = "error"

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
