"""Real Kubernetes nodes for the local control plane (`up --nodes M`).

Per cluster: a kube-controller-manager, a kube-scheduler and M nodes. A node is a kubelet with its
own containerd (one per kubelet: a kubelet kills containers and cgroups it does not own), its own
CNI bridge and subnet, cgroup root and directories under WORKDIR/nodes/NAME, and the test images
imported before the kubelet starts. The settings that make this work on a cgroup v1 VM without
Docker, and why, are in integration/README.md.

Network: everything listens on 127.0.0.1. The kubelet refuses a loopback --node-ip, so it publishes
the machine's address, but nothing ever dials it: the API servers run in a mount namespace of
their own (a "holder" process keeps it) whose /etc/hosts maps node names to 127.0.0.1, and reach
kubelets by Hostname only. Pods sit on a bridge of ours with no default route.

What a node cannot keep inside the workdir (the bridge, cgroup roots, kernel settings the kubelet
changes, a few hard-coded paths) is recorded at `up` and removed or restored by `down`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from integration.controlplane.images import Images
from integration.controlplane.process import alive, free_port, spawn, terminate

if TYPE_CHECKING:
    from integration.controlplane.build import Binaries
    from integration.controlplane.fleet import ClusterState, FleetState

PREFIX = "kmcp"
"""Bridge `kmcpN`, cgroup root `/kmcpN`, CNI network `kmcpN`: N is reserved host-wide by creating
the bridge, so two fleets on one machine never share a name or a subnet."""
CNI_BIN_DIRS = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
CLUSTER_DNS = "10.96.0.10"
"""In the service range; nothing answers there and pods have no route to it (no DNS traffic)."""
SYSCTLS = (
    "net/ipv4/ip_forward",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
"""Set by the kubelet at start (its kernel tunables) or by CNI plugins; restored by `down`."""
SHARED_PATHS = (
    "/var/lib/kubelet",
    "/var/lib/kubelet/device-plugins",
    "/var/lib/kubelet/device-plugins/kubelet.sock",
    "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/var/lib/cni/results",
    "/run/containerd",
    "/run/containerd/s",
    "/run/netns",
    "/usr/libexec/kubernetes",
    "/etc/kubernetes",
    "/etc/cni",
)
"""Hard-coded paths a kubelet or containerd may create; `down` removes those that did not exist
at `up` once no other kubelet or containerd runs on the machine."""
NODE_READY_TIMEOUT = 120.0
_MNT_DETACH = 2


@dataclass
class ProcessState:
    """One controller of a cluster: kube-controller-manager or kube-scheduler."""

    name: str
    pid: int | None
    port: int
    args: list[str] = field(default_factory=list)


@dataclass
class NodeState:
    """One node: a kubelet and its containerd, and where their files and host resources are."""

    name: str
    cluster: str
    index: int
    directory: str
    node_ip: str
    kubelet_port: int
    kubelet_pid: int | None = None
    containerd_pid: int | None = None
    kubelet_args: list[str] = field(default_factory=list)
    containerd_args: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.index}"

    @property
    def subnet(self) -> str:
        return f"10.244.{self.index}.0/24"

    @property
    def cgroup_root(self) -> str:
        return f"/{PREFIX}{self.index}"

    @property
    def socket(self) -> str:
        return str(Path(self.directory) / "containerd.sock")

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": alive(self.kubelet_pid) and alive(self.containerd_pid),
            "kubelet": {
                "pid": self.kubelet_pid,
                "port": self.kubelet_port,
                "running": alive(self.kubelet_pid),
            },
            "containerd": {
                "pid": self.containerd_pid,
                "socket": self.socket,
                "running": alive(self.containerd_pid),
            },
            "node_ip": self.node_ip,
            "bridge": self.bridge,
            "pod_subnet": self.subnet,
            "cgroup_root": self.cgroup_root,
            "directory": self.directory,
        }


# -- host requirements --------------------------------------------------------------------------


def _cni_bin_dir() -> Path | None:
    for directory in CNI_BIN_DIRS:
        if all(os.access(directory / p, os.X_OK) for p in ("bridge", "host-local", "loopback")):
            return directory
    return None


def _runc() -> str | None:
    return shutil.which("runc") or ("/usr/sbin/runc" if os.access("/usr/sbin/runc", os.X_OK) else None)


def _cgroup_mounts() -> list[tuple[Path, str]]:
    """(mount point, "cgroup" or "cgroup2") of every cgroup hierarchy mounted here."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype = right.split(" ", 1)[0]
        if fstype in ("cgroup", "cgroup2"):
            found.append((Path(_unescape(left.split(" ")[4])), fstype))
    return found


def host_problem() -> str | None:
    """Why real nodes cannot run on this machine, in one line; None when they can."""
    if sys.platform != "linux":
        return "real nodes need Linux"
    if os.geteuid() != 0:
        return "real nodes need root (kubelet, containerd and runc manage cgroups, mounts and networks)"
    tools = {
        "containerd": shutil.which("containerd"),
        "ctr": shutil.which("ctr"),
        "runc": _runc(),
        "CNI plugins (bridge, host-local, loopback)": _cni_bin_dir(),
        "ip (iproute2)": shutil.which("ip"),
        "unshare and nsenter (util-linux)": shutil.which("unshare") and shutil.which("nsenter"),
    }
    missing = [name for name, path in tools.items() if not path]
    if missing:
        return f"real nodes need {', '.join(missing)}; scripts/test installs them with apt-get as root"
    done = subprocess.run(["containerd", "--version"], capture_output=True, text=True, check=False)
    version = re.search(r"\s(\d+)\.(\d+)\.", done.stdout)
    if not version or (int(version[1]), int(version[2])) < (1, 6):
        return f"real nodes need containerd 1.6 or later; found {done.stdout.strip() or 'no version'}"
    mounts = _cgroup_mounts()
    if not mounts:
        return "real nodes need a cgroup hierarchy; none is mounted"
    if not all(os.access(m, os.W_OK) for m, _ in mounts):
        return "real nodes need writable cgroup hierarchies; /sys/fs/cgroup is read-only here"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "real nodes need the overlay filesystem (containerd's overlayfs snapshotter)"
    return None


def socket_path_problem(workdir: Path, node_names: list[str]) -> str | None:
    """Unix socket paths have a length limit (104 bytes for containerd, 107 for the kubelet);
    a node's sockets live in its directory under the workdir, so a long workdir cannot work."""
    longest = max(node_names, key=len)
    paths = {
        104: workdir / "nodes" / longest / "containerd.sock.ttrpc",
        107: workdir / "nodes" / longest / "kubelet" / "pod-resources" / "kubelet.sock",
    }
    for limit, path in paths.items():
        if len(str(path)) > limit:
            room = len(str(workdir)) - (len(str(path)) - limit)
            return (
                f"workdir {workdir} is too long for the nodes' unix sockets (at most {room} characters here)"
            )
    return None


def record_host() -> dict[str, Any]:
    """What `down` must restore or leave alone: kernel settings and which shared paths existed.

    While another fleet's nodes run, the kernel settings their kubelets changed and the paths
    they made are not the machine's own: take that fleet's record instead, so whichever fleet
    goes down last gives the machine back as it was before the first one.
    """
    for config in _kubelet_configs():
        state = Path(config).parents[2] / "state.json"  # WORKDIR/nodes/NAME/kubelet.yaml
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            host = json.loads(state.read_text())["host"]
            return {"sysctls": dict(host["sysctls"]), "existing": list(host["existing"])}
    return {
        "sysctls": {s: Path("/proc/sys", s).read_text().strip() for s in SYSCTLS},
        "existing": [p for p in SHARED_PATHS if os.path.lexists(p)],
    }


def _kubelet_configs() -> list[str]:
    """The --config of every kubelet running on the machine."""
    configs = []
    for pid in _processes_with("--config="):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "kubelet" and alive(pid):
                args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
                configs += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    return configs


def _run(args: list[str], timeout: float = 60.0) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def node_ip() -> str:
    """The machine's own non-loopback IPv4 address (the default route's first): published by the
    kubelet as InternalIP because it refuses loopback, never dialled by anything of ours."""
    default_devices = {r.get("dev") for r in json.loads(_run(["ip", "-j", "-4", "route", "show", "default"]))}
    candidates = []
    for link in json.loads(_run(["ip", "-j", "-4", "addr", "show"])):
        name = link.get("ifname", "")
        if name == "lo" or name.startswith(PREFIX):
            continue
        for address in link.get("addr_info", []):
            if address.get("family") == "inet" and address.get("scope") == "global":
                candidates.append((name not in default_devices, address["local"]))
    if not candidates:
        raise RuntimeError("no non-loopback IPv4 address on this machine for the kubelet's --node-ip")
    return sorted(candidates)[0][1]


# -- mount namespace of the API servers --------------------------------------------------------


def start_holder(workdir: Path, node_names: list[str]) -> int:
    """A process keeping a mount namespace whose /etc/hosts maps every node name to 127.0.0.1.

    API servers started inside it (`holder_prefix`) reach kubelets on loopback; the machine's
    /etc/hosts is untouched. Created before any node mount exists, so it holds none of them.
    """
    hosts = workdir / "hosts"
    hosts.write_text(
        Path("/etc/hosts").read_text().rstrip("\n")
        + "\n# real nodes of this fleet: API servers reach each kubelet on loopback\n"
        + "".join(f"127.0.0.1 {name}\n" for name in node_names)
    )
    pid = spawn(
        [
            "unshare",
            "--mount",
            "--propagation",
            "slave",
            "--",
            "sh",
            "-c",
            'mount --bind "$1" /etc/hosts && exec sleep infinity',
            "k8s-mcp-holder",
            str(hosts),
        ],
        workdir / "logs" / "holder.log",
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not alive(pid):
            log = (workdir / "logs" / "holder.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the mount namespace for the API servers could not be made:\n{log}")
        with contextlib.suppress(OSError):
            if " /etc/hosts " in Path(f"/proc/{pid}/mountinfo").read_text():
                return pid
        time.sleep(0.02)
    terminate(pid)
    raise RuntimeError("the mount namespace for the API servers was not ready in 10s")


def holder_prefix(holder_pid: int) -> list[str]:
    """Run a command in the holder's mount namespace (nsenter execs it: the pid is the command's)."""
    return ["nsenter", f"--target={holder_pid}", "--mount", "--"]


# -- host resources: bridge, cgroups, mounts ---------------------------------------------------


def _reserve_index() -> int:
    """Create bridge kmcpN (the first free N) with 10.244.N.1/24: the name reserves N host-wide."""
    routes = json.loads(_run(["ip", "-j", "-4", "route", "show"]))
    used = [
        ipaddress.ip_network(r["dst"], strict=False) for r in routes if r.get("dst", "default") != "default"
    ]
    cgroup_dirs = [m for m, _ in _cgroup_mounts()]
    for index in range(1, 255):
        name = f"{PREFIX}{index}"
        subnet = ipaddress.ip_network(f"10.244.{index}.0/24")
        if (
            Path("/sys/class/net", name).exists()
            or any(subnet.overlaps(u) for u in used)
            or any((d / name).exists() for d in cgroup_dirs)  # left by a crashed fleet
        ):
            continue
        done = subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True, check=False)
        if done.returncode != 0:
            continue  # taken by a fleet starting at the same moment
        _run(["ip", "addr", "add", f"10.244.{index}.1/24", "dev", name])
        _run(["ip", "link", "set", name, "up"])
        return index
    raise RuntimeError(f"no free bridge name {PREFIX}1..{PREFIX}254 or subnet 10.244.N.0/24 on this machine")


def _make_cgroup_root(name: str) -> None:
    """The kubelet refuses a cgroupRoot that does not exist in every hierarchy; cpuset children
    need cpus and mems before anything can join them."""
    for mount, fstype in _cgroup_mounts():
        path = mount / name.lstrip("/")
        path.mkdir(exist_ok=True)
        if fstype == "cgroup" and (mount / "cpuset.cpus").exists():
            for knob in ("cpuset.cpus", "cpuset.mems"):
                (path / knob).write_text((mount / knob).read_text())
        elif fstype == "cgroup2" and (mount / "cgroup.subtree_control").exists():
            for controller in (mount / "cgroup.subtree_control").read_text().split():
                with contextlib.suppress(OSError):
                    (path / "cgroup.subtree_control").write_text(f"+{controller}")


def _remove_cgroup_root(name: str, timeout: float = 15.0) -> None:
    """Kill whatever still runs under the root, then remove it, deepest first, in every hierarchy."""
    tops = [m / name.lstrip("/") for m, _ in _cgroup_mounts()]
    tops = [t for t in tops if t.is_dir()]
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for top in tops:
            for directory, _, _ in os.walk(top):
                with contextlib.suppress(OSError):
                    pids |= {int(p) for p in Path(directory, "cgroup.procs").read_text().split()}
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for top in tops:
        directories = sorted((d for d, _, _ in os.walk(top)), key=lambda d: d.count("/"), reverse=True)
        for directory in directories:
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise RuntimeError(f"cannot remove cgroup {directory}: {exc}") from exc
                    time.sleep(0.1)


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), path)


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below `directory` in this mount namespace, deepest (latest) first."""
    prefix = str(directory).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split(" ")[4])
        if point == prefix[:-1] or point.startswith(prefix):
            points.append(point)
    return list(reversed(points))


def unmount_under(directory: Path) -> None:
    """Unmount everything at or below `directory` (a lazy detach when a mount is busy)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(10):
        points = mounts_under(directory)
        if not points:
            return
        for point in points:
            if libc.umount2(point.encode(), 0) != 0:
                libc.umount2(point.encode(), _MNT_DETACH)
    left = mounts_under(directory)
    if left:
        raise RuntimeError(f"mounts left under {directory}: {left[:5]}")


# -- files of a node ---------------------------------------------------------------------------


def _containerd_config(node: NodeState, images: Images, cni_bin: Path, runc: str) -> str:
    d = Path(node.directory)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{d / "containerd"}"
state = "{d / "state"}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{node.socket}"

[ttrpc]
  address = "{node.socket}.ttrpc"

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d / "opt"}"

[{cri}]
  sandbox_image = "{images.pause_name}"
  # root here cannot set a negative oom_score_adj (no CAP_SYS_RESOURCE in such VMs)
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  BinaryName = "{runc}"
  Root = "{d / "runc"}"
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{cni_bin}"
  conf_dir = "{d / "cni" / "net.d"}"
  max_conf_num = 1
"""


def _cni_config(node: NodeState) -> dict[str, Any]:
    """A bridge of ours with the gateway address already on it (isGateway off: no ip_forward, no
    default route in pods) and host-local addresses kept in the node's directory."""
    subnet = ipaddress.ip_network(node.subnet)
    return {
        "cniVersion": "1.0.0",
        "name": node.bridge,
        "plugins": [
            {
                "type": "bridge",
                "bridge": node.bridge,
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [
                        [{"subnet": node.subnet, "rangeStart": str(subnet[2]), "gateway": str(subnet[1])}]
                    ],
                    "dataDir": str(Path(node.directory) / "cni" / "ipam"),
                },
            },
            {"type": "loopback"},
        ],
    }


def _kubelet_config(node: NodeState, healthz_port: int) -> dict[str, Any]:
    d = Path(node.directory)
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": node.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        # The API server has no kubelet client certificate; everything is on loopback.
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_root,
        "failCgroupV1": False,
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "makeIPTablesUtilChains": False,
        "clusterDomain": "cluster.local",
        "clusterDNS": [CLUSTER_DNS],
        "resolvConf": "",
        "podLogsDir": str(d / "pod-logs"),
        "volumePluginDir": str(d / "volume-plugins"),
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "2%",
            "nodefs.inodesFree": "2%",
            "imagefs.available": "2%",
        },
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "serializeImagePulls": False,
        "shutdownGracePeriod": "0s",
        "rotateCertificates": False,
    }


def _prepare_node(node: NodeState, binaries: Binaries, kubeconfig: Path, cni_bin: Path, runc: str) -> None:
    assert binaries.images is not None and binaries.kubelet is not None
    d = Path(node.directory)
    for sub in (
        "containerd",
        "state",
        "opt",
        "runc",
        "cni/net.d",
        "cni/ipam",
        "kubelet",
        "pod-logs",
        "volume-plugins",
    ):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "containerd.toml").write_text(_containerd_config(node, binaries.images, cni_bin, runc))
    (d / "cni" / "net.d" / "10-kmcp.conflist").write_text(json.dumps(_cni_config(node), indent=2))
    (d / "kubelet.yaml").write_text(yaml.safe_dump(_kubelet_config(node, free_port()), sort_keys=False))
    shutil.copyfile(kubeconfig, d / "kubeconfig.yaml")
    (d / "kubeconfig.yaml").chmod(0o600)
    node.containerd_args = ["containerd", "--config", str(d / "containerd.toml")]
    node.kubelet_args = [
        str(binaries.kubelet),
        f"--config={d / 'kubelet.yaml'}",
        f"--kubeconfig={d / 'kubeconfig.yaml'}",
        f"--root-dir={d / 'kubelet'}",
        f"--cert-dir={d / 'kubelet' / 'pki'}",
        f"--hostname-override={node.name}",
        f"--node-ip={node.node_ip}",
    ]


def _ctr(node: NodeState, *args: str, timeout: float = 60.0) -> str:
    return _run(["ctr", "--address", node.socket, "--namespace", "k8s.io", *args], timeout=timeout)


def _wait_containerd(node: NodeState, workdir: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not alive(node.containerd_pid):
            raise RuntimeError(
                f"containerd of {node.name} exited:\n{_tail(workdir, node.name + '-containerd')}"
            )
        done = subprocess.run(
            ["ctr", "--address", node.socket, "version"], capture_output=True, timeout=10, check=False
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"containerd of {node.name} not answering after {timeout:.0f}s")
        time.sleep(0.05)


def _tail(workdir: Path, log: str) -> str:
    path = workdir / "logs" / f"{log}.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def log_path(workdir: Path, node: NodeState, component: str) -> Path:
    return workdir / "logs" / f"{node.name}-{component}.log"


# -- the API, for readiness --------------------------------------------------------------------


def _get(server: str, token: str, cafile: Path, path: str) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(cafile))
    request = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=5) as answer:
        return dict(json.load(answer))


def _node_ready(node: dict[str, Any]) -> bool:
    """Ready, and no longer tainted not-ready (so pods schedule onto it at once)."""
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    taints = node.get("spec", {}).get("taints") or []
    return ready and not any(t["key"] == "node.kubernetes.io/not-ready" for t in taints)


def _serving(port: int) -> bool:
    """Whether a controller's secure port answers (any HTTP status: it is up)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


# -- start and stop ----------------------------------------------------------------------------


def _controller_args(
    binaries: Binaries, workdir: Path, cluster: ClusterState, kind: str, port: int
) -> list[str]:
    certs = workdir / "certs"
    common = [
        f"--kubeconfig={cluster.kubeconfig}",
        "--leader-elect=false",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={workdir / 'controllers' / f'{cluster.name}-{kind}'}",
        "--profiling=false",
    ]
    if kind == "kube-scheduler":
        return [str(binaries.kube_scheduler), *common]
    # No --authentication/--authorization-kubeconfig: with token auth and no client CA the API
    # server never publishes extension-apiserver-authentication, and both would log it forever.
    return [
        str(binaries.kube_controller_manager),
        *common,
        f"--service-account-private-key-file={certs / 'sa.key'}",
        f"--root-ca-file={certs / 'ca.crt'}",
        "--use-service-account-credentials=false",
        f"--cluster-name={cluster.name}",
        f"--flex-volume-plugin-dir={workdir / 'controllers' / f'{cluster.name}-flexvolume'}",
    ]


def attach(state: FleetState, binaries: Binaries, per_cluster: int, save: Callable[[], None]) -> None:
    """Start controllers and `per_cluster` nodes in every cluster; return once all nodes are Ready."""
    workdir = Path(state.workdir)
    cni_bin, runc = _cni_bin_dir(), _runc()
    assert cni_bin is not None and runc is not None and binaries.images is not None
    address = node_ip()
    for cluster in state.clusters:
        for kind in ("kube-controller-manager", "kube-scheduler"):
            port = free_port()
            process = ProcessState(
                name=kind, pid=None, port=port, args=_controller_args(binaries, workdir, cluster, kind, port)
            )
            process.pid = spawn(process.args, workdir / "logs" / f"{cluster.name}-{kind}.log")
            cluster.controllers.append(process)
        save()
    for cluster in state.clusters:
        for number in range(1, per_cluster + 1):
            node = NodeState(
                name=f"{cluster.name}-node-{number}",
                cluster=cluster.name,
                index=_reserve_index(),
                directory=str(workdir / "nodes" / f"{cluster.name}-node-{number}"),
                node_ip=address,
                kubelet_port=free_port(),
            )
            cluster.nodes.append(node)
            save()
            _make_cgroup_root(node.cgroup_root)
            _prepare_node(node, binaries, Path(cluster.kubeconfig), cni_bin, runc)
            node.containerd_pid = spawn(node.containerd_args, log_path(workdir, node, "containerd"))
            save()
    for cluster in state.clusters:
        for node in cluster.nodes:
            _wait_containerd(node, workdir)
            for tarball in binaries.images.tarballs():
                _ctr(node, "images", "import", str(tarball))
            node.kubelet_pid = spawn(node.kubelet_args, log_path(workdir, node, "kubelet"))
            save()
    wait_ready(state)


def wait_ready(state: FleetState, timeout: float = NODE_READY_TIMEOUT) -> None:
    """Every node Ready and schedulable, every controller serving."""
    workdir = Path(state.workdir)
    cafile = workdir / "certs" / "ca.crt"
    deadline = time.monotonic() + timeout
    for cluster in state.clusters:
        for node in cluster.nodes:
            last = "not registered"
            while True:
                for pid, what in ((node.kubelet_pid, "kubelet"), (node.containerd_pid, "containerd")):
                    if not alive(pid):
                        raise RuntimeError(
                            f"{what} of {node.name} exited:\n{log_path(workdir, node, what).read_text(errors='replace')[-3000:]}"
                        )
                try:
                    found = _get(cluster.server, state.admin_token, cafile, f"/api/v1/nodes/{node.name}")
                    if _node_ready(found):
                        break
                    last = json.dumps(found.get("status", {}).get("conditions", []))[-1500:]
                except (urllib.error.URLError, OSError) as exc:
                    last = str(exc)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node {node.name} not Ready after {timeout:.0f}s: {last}")
                time.sleep(0.2)
        for process in cluster.controllers:
            while not _serving(process.port):
                if not alive(process.pid):
                    log = workdir / "logs" / f"{cluster.name}-{process.name}.log"
                    raise RuntimeError(f"{process.name} of {cluster.name} exited:\n{log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{process.name} of {cluster.name} not serving after {timeout:.0f}s")
                time.sleep(0.1)


def start_kubelet(state: FleetState, node: NodeState) -> None:
    """Start a stopped node's kubelet again (its containerd and containers kept running)."""
    if not alive(node.containerd_pid):
        node.containerd_pid = spawn(node.containerd_args, log_path(Path(state.workdir), node, "containerd"))
        _wait_containerd(node, Path(state.workdir))
    if not alive(node.kubelet_pid):
        node.kubelet_pid = spawn(node.kubelet_args, log_path(Path(state.workdir), node, "kubelet"))


def _processes_with(needle: str) -> list[int]:
    """Pids whose command line contains `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _stop_node(node: NodeState) -> None:
    """kubelet first (it would restart what we kill), then every task through containerd (the shims
    unmount rootfs and exit), then containerd and any shim still holding its socket."""
    terminate(node.kubelet_pid)
    node.kubelet_pid = None
    if alive(node.containerd_pid):
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            tasks = _ctr(node, "tasks", "ls", "--quiet", timeout=20).split()
            if tasks:
                _ctr(node, "tasks", "rm", "--force", *tasks, timeout=60)
    terminate(node.containerd_pid)
    node.containerd_pid = None
    for pid in _processes_with(f"-address\0{node.socket}\0"):
        terminate(pid, timeout=5)


def _clean_shared_paths(workdir: Path, host: dict[str, Any], bridges: list[str]) -> None:
    """Remove what nodes leave in hard-coded places outside the workdir."""
    logs = Path("/var/log/containers")
    if logs.is_dir():
        for link in logs.iterdir():
            if link.is_symlink() and os.readlink(link).startswith(str(workdir) + "/"):
                link.unlink()
    results = Path("/var/lib/cni/results")
    if results.is_dir():
        # NETWORK-SANDBOXID-IFNAME: our networks, or the CRI's own loopback network of our sandboxes
        sandboxes = {
            f"-{sandbox.name}-" for sandbox in workdir.glob("nodes/*/*/io.containerd.grpc.v1.cri/sandboxes/*")
        }
        for result in results.iterdir():
            if any(result.name.startswith(f"{b}-") for b in bridges) or any(
                s in result.name for s in sandboxes
            ):
                result.unlink()
    shims = Path("/run/containerd/s")
    if shims.is_dir():
        for entry in shims.iterdir():
            if entry.is_socket() and not _listening(entry):
                entry.unlink()
    if _running("kubelet", "containerd"):
        return  # another node on this machine may be using them
    existing = set(host.get("existing", []))
    for path in sorted(SHARED_PATHS, key=len, reverse=True):
        if path in existing or not os.path.lexists(path):
            continue
        if Path(path).is_dir() and not Path(path).is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            Path(path).unlink(missing_ok=True)


def _running(*names: str) -> bool:
    """Whether any process whose name starts with one of `names` runs on the machine."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip().startswith(names) and alive(int(entry.name)):
                    return True
    return False


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def restore_sysctls(host: dict[str, Any]) -> None:
    for name, value in host.get("sysctls", {}).items():
        path = Path("/proc/sys", name)
        with contextlib.suppress(OSError):
            if path.read_text().strip() != value:
                path.write_text(value)


def detach(state: FleetState) -> None:
    """Stop every controller and node of the fleet and give back what they took from the host."""
    workdir = Path(state.workdir)
    nodes = [node for cluster in state.clusters for node in cluster.nodes]
    for cluster in state.clusters:
        for process in cluster.controllers:
            terminate(process.pid)
            process.pid = None
    for node in nodes:
        terminate(node.kubelet_pid)
    for node in nodes:
        _stop_node(node)
    for node in nodes:
        _remove_cgroup_root(node.cgroup_root)
    unmount_under(workdir / "nodes")
    for node in nodes:
        if Path("/sys/class/net", node.bridge).exists():
            _run(["ip", "link", "delete", node.bridge])
    if nodes:
        _clean_shared_paths(workdir, state.host, [n.bridge for n in nodes])
        if not _running("kubelet"):  # another fleet's kubelet still relies on them
            restore_sysctls(state.host)
