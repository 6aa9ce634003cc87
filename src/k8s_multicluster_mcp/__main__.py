"""`python -m k8s_multicluster_mcp` runs the same CLI as the console script."""

from k8s_multicluster_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
