"""`k8s-multicluster-mcp check` against real API servers: the table and the exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from integration.backends import Fleet

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")


def check(kubeconfig_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A generous timeout: these run first, against API servers just started, on a loaded machine
    # (CI runs the benchmarks just before); a stopped cluster refuses at once anyway.
    return subprocess.run(
        [str(SCRIPT), "check", "--kubeconfig-dir", str(kubeconfig_dir), "--request-timeout", "10", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rows(output: str) -> dict[str, list[str]]:
    lines = output.splitlines()
    header = lines[0]
    starts = [header.index(col) for col in header.split()]
    table = {}
    for line in lines[1:]:
        if (
            not line.strip()
            or " contexts usable" in line
            or " tools need what this user may not: " in line
            or line.startswith(("unusable", "context "))
        ):
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line) + 999], strict=True)]
        table[cells[0]] = cells
    return table


def test_check_with_one_cluster_stopped(running_fleet: Fleet) -> None:
    down = running_fleet.contexts[1]
    running_fleet.stop(down)
    done = check(running_fleet.kubeconfig_dir)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    up = running_fleet.contexts[0]
    assert table[up][3:9] == ["yes", "yes", table[up][5], "list+watch", "list+watch", "list+watch"]
    assert table[up][5].startswith("v1.")
    viewer = table[running_fleet.viewer(up)]
    assert viewer[6:9] == ["list+watch (ns team-a only)", "list+watch (ns team-a only)", "no"]
    assert table[down][3] == "NO"
    assert table[down][-1] == "unreachable: connection refused"
    assert done.stdout.strip().splitlines()[-1] == "4 of 6 contexts usable"
    # Every permission the registered tools need, reviewed: the admin may use all 26 default
    # tools, the namespace viewer fewer, and a line names what each missing tool lacks.
    assert table[up][10] == "26/26"
    allowed, registered = map(int, viewer[10].split("/"))
    assert registered == 26 and allowed < 26, viewer
    (lacking,) = [
        line for line in done.stdout.splitlines() if line.startswith(f"{running_fleet.viewer(up)}: ")
    ]
    assert f"{26 - allowed} of 26 tools need what this user may not: " in lacking
    assert "k8s_get_nodes (list nodes, watch nodes)" in lacking
    assert table[down][10] == "-"


def test_check_exits_non_zero_when_nothing_is_usable(running_fleet: Fleet) -> None:
    for ctx in running_fleet.contexts:
        running_fleet.stop(ctx)
    done = check(running_fleet.kubeconfig_dir)
    assert done.returncode == 1
    assert done.stdout.strip().splitlines()[-1] == "0 of 6 contexts usable"


def test_check_without_contexts_explains(tmp_path: Path) -> None:
    done = check(tmp_path)
    assert done.returncode == 1
    assert "no Kubernetes contexts found" in done.stdout
