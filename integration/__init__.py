"""Tests against real Kubernetes API servers: the local control plane (default) or kind."""
