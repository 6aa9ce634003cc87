"""Logging to stderr only: in stdio mode stdout belongs to the MCP protocol."""

from __future__ import annotations

import logging
import sys

AUDIT = "k8s_multicluster_mcp.audit"


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Every write is logged, whatever the level (an audit trail: context, tool, object, result).
    logging.getLogger(AUDIT).setLevel(logging.INFO)
    # Quiet libraries that log every request at INFO.
    for noisy in ("urllib3", "httpx", "mcp.server.lowlevel", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).level, logging.WARNING))
