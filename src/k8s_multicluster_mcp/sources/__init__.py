"""Where cluster state comes from: the live API (on-demand) or, in --watch mode, the watch cache.

Every source implements `ClusterSource`; the query layer uses nothing else, so it cannot tell
(and does not care) which one answered, beyond the provenance each `Snapshot` carries.
"""

from k8s_multicluster_mcp.sources.base import ClusterSource, Snapshot, SourceName
from k8s_multicluster_mcp.sources.live import LiveSource

__all__ = ["ClusterSource", "LiveSource", "Snapshot", "SourceName"]
