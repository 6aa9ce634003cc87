"""A local fleet of real Kubernetes API servers (etcd + kube-apiserver built from Go modules).

`python -m integration.controlplane build|up|down|stop|start|status`; see integration/README.md.
"""

from integration.controlplane.build import Binaries, build, cache_dir
from integration.controlplane.fleet import (
    VIEWER_NAMESPACE,
    ClusterState,
    FleetState,
    down,
    load,
    start,
    status,
    stop,
    up,
)

__all__ = [
    "VIEWER_NAMESPACE",
    "Binaries",
    "ClusterState",
    "FleetState",
    "build",
    "cache_dir",
    "down",
    "load",
    "start",
    "status",
    "stop",
    "up",
]
