"""k8s-multicluster-mcp: an MCP server that answers questions across many Kubernetes clusters at once."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("k8s-multicluster-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
