"""CLI: python -m integration.controlplane build|up|down|stop|start|status."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from integration.controlplane import build, down, start, status, stop, up
from integration.controlplane.build import build_helm

DEFAULT_WORKDIR = Path("/tmp/k8s-mcp-controlplane")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.controlplane", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p_build = commands.add_parser(
        "build", help="build (or find) kube-apiserver, etcd and helm; print where they are"
    )
    p_build.add_argument(
        "--nodes",
        action="store_true",
        help="also kubelet, kube-controller-manager, kube-scheduler and the test images",
    )
    p_up = commands.add_parser("up", help="start etcd and N API servers; print a JSON description")
    p_up.add_argument("--clusters", type=int, default=3)
    p_up.add_argument(
        "--nodes",
        type=int,
        default=0,
        metavar="M",
        help="per cluster: a controller manager, a scheduler and M real nodes (root; see integration/README.md)",
    )
    for name in ("down", "status"):
        commands.add_parser(name, help=f"{name} the fleet")
    for name in ("stop", "start"):
        p = commands.add_parser(
            name, help=f"{name} one cluster's API server (same port, same data) or one node's kubelet"
        )
        p.add_argument("name", help="a cluster (cp-N) or a node (cp-N-node-M)")
    for p in commands.choices.values():
        if p.prog.split()[-1] != "build":
            p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            binaries = build(nodes=args.nodes)
            found = {"kube-apiserver": binaries.kube_apiserver, "etcd": binaries.etcd, "helm": build_helm()}
            if args.nodes:
                assert binaries.images is not None
                found |= {
                    "kubelet": binaries.kubelet,
                    "kube-controller-manager": binaries.kube_controller_manager,
                    "kube-scheduler": binaries.kube_scheduler,
                    binaries.images.workload_name: binaries.images.workload,
                    binaries.images.pause_name: binaries.images.pause,
                }
            print(json.dumps({name: str(path) for name, path in found.items()}, indent=2))
        elif args.command == "up":
            print(json.dumps(up(args.workdir, args.clusters, args.nodes).describe(), indent=2))
        elif args.command == "down":
            down(args.workdir)
            print(
                json.dumps(status(args.workdir), indent=2) if (args.workdir / "state.json").exists() else "{}"
            )
        elif args.command == "stop":
            stop(args.workdir, args.name)
            print(json.dumps(status(args.workdir), indent=2))
        elif args.command == "start":
            start(args.workdir, args.name)
            print(json.dumps(status(args.workdir), indent=2))
        else:
            print(json.dumps(status(args.workdir), indent=2))
    except (RuntimeError, KeyError, FileNotFoundError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
