"""The watch cache behind `--watch`: reflectors (list + watch per context and kind), the stores
they fill, the policy that decides when the cache may answer, and the source that ties them."""

from k8s_multicluster_mcp.sources.watch.source import KINDS, WatchSource

__all__ = ["KINDS", "WatchSource"]
