"""A local fleet of real Kubernetes API servers (etcd + kube-apiserver built from Go modules),
optionally with real nodes (kubelet + containerd) and controllers.

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
from integration.controlplane.images import ABSENT_IMAGE, PAUSE_IMAGE, WORKLOAD_IMAGE
from integration.controlplane.nodes import NodeState, host_problem

__all__ = [
    "ABSENT_IMAGE",
    "PAUSE_IMAGE",
    "VIEWER_NAMESPACE",
    "WORKLOAD_IMAGE",
    "Binaries",
    "ClusterState",
    "FleetState",
    "NodeState",
    "build",
    "cache_dir",
    "down",
    "host_problem",
    "load",
    "start",
    "status",
    "stop",
    "up",
]
