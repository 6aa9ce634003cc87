"""Build (or find) kube-apiserver and etcd (and, for real nodes, kubelet, kube-controller-manager,
kube-scheduler and the test images), cached outside the repo.

`k8s.io/kubernetes` cannot be `go install`ed: its go.mod points the k8s.io/* staging modules at
`./staging/...`. So we generate a tiny module that requires it and replaces every staging module
with its published version, and build the command from there. The generated files live in the
cache directory, never in the repo.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from integration.controlplane import versions
from integration.controlplane.images import Images, build_images

CACHE_ENV = "K8S_MCP_CONTROLPLANE_CACHE"
APISERVER_ENV = "K8S_MCP_KUBE_APISERVER"
ETCD_ENV = "K8S_MCP_ETCD"
KUBECTL_ENV = "K8S_MCP_KUBECTL"
HELM_ENV = "K8S_MCP_HELM"
NODE_ENV = {
    "kubelet": "K8S_MCP_KUBELET",
    "kube-controller-manager": "K8S_MCP_KUBE_CONTROLLER_MANAGER",
    "kube-scheduler": "K8S_MCP_KUBE_SCHEDULER",
}
_STAGING_RE = re.compile(r"^\s*(k8s\.io/[A-Za-z0-9._-]+)\s*=>\s*\./staging/", re.M)


@dataclass(frozen=True)
class Binaries:
    """Paths of the binaries a fleet runs; the node ones only after `build(nodes=True)`."""

    kube_apiserver: Path
    etcd: Path
    kubelet: Path | None = None
    kube_controller_manager: Path | None = None
    kube_scheduler: Path | None = None
    kubectl: Path | None = None
    """Built (same version) only when none is on PATH."""
    images: Images | None = None


def cache_root() -> Path:
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base).expanduser()
    return (
        Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
        / "k8s-multicluster-mcp"
        / "controlplane"
    )


def cache_dir() -> Path:
    return cache_root() / f"k8s-{versions.KUBERNETES}_etcd-{versions.ETCD}"


def _say(message: str) -> None:
    sys.stderr.write(f"[controlplane] {message}\n")
    sys.stderr.flush()


def _go(args: list[str], cwd: Path) -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "the Go toolchain ('go') is not on PATH; it is needed to build the control plane's binaries and helm"
        )
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    done = subprocess.run([go, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"go {' '.join(args)} failed in {cwd}:\n{done.stderr[-4000:]}")
    return done.stdout


def _write_module(
    directory: Path, module: str, requires: list[str], replaces: list[str], imports: list[str]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"module {module}", "", f"go {versions.GO_DIRECTIVE}", ""]
    lines += [f"require {r}" for r in requires] + [""]
    lines += [f"replace {r}" for r in replaces]
    (directory / "go.mod").write_text("\n".join(lines) + "\n")
    body = "\n".join(f'\t_ "{i}"' for i in imports)
    (directory / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{body}\n)\n")


def _staging_replaces(work: Path) -> list[str]:
    info = json.loads(_go(["mod", "download", "-json", f"k8s.io/kubernetes@{versions.KUBERNETES}"], work))
    gomod = Path(info["GoMod"]).read_text()
    modules = sorted(set(_STAGING_RE.findall(gomod)))
    if not modules:
        raise RuntimeError(
            f"no staging replace lines found in k8s.io/kubernetes@{versions.KUBERNETES} go.mod"
        )
    return [f"{m} => {m} {versions.STAGING}" for m in modules]


_IMPORT_RE = re.compile(r'^\s*_ "([^"]+)"\s*$', re.M)
NODE_COMMANDS = ("kubelet", "kube-controller-manager", "kube-scheduler")
"""Built by `build --nodes`, from the same generated module (and Go caches) as kube-apiserver."""


def _kubernetes_module(commands: list[str]) -> Path:
    """The generated module that imports `commands` (and every command it imported before).

    One module for every Kubernetes command keeps one dependency graph, so a command added later
    (kubelet after kube-apiserver) reuses the modules and compiled packages already in the caches.
    `go mod tidy` runs only when the set of commands changes.
    """
    work = cache_dir() / "src" / "kubernetes"
    work.mkdir(parents=True, exist_ok=True)
    tools = work / "tools.go"
    known = set(_IMPORT_RE.findall(tools.read_text())) if tools.exists() else set()
    wanted = known | {f"k8s.io/kubernetes/cmd/{c}" for c in commands}
    if wanted == known and (work / "go.sum").exists():
        return work
    _write_module(
        work,
        "k8smcp.local/controlplane/kubernetes",
        [f"k8s.io/kubernetes {versions.KUBERNETES}"],
        _staging_replaces(work),
        sorted(wanted),
    )
    _go(["mod", "tidy"], work)
    return work


def _build_kubernetes(command: str, target: Path, together: list[str]) -> None:
    """Build one command of k8s.io/kubernetes; `together` are the commands this run builds, all
    imported into the module at once so `go mod tidy` runs once."""
    work = _kubernetes_module([command, *together])
    major, minor, _ = versions.KUBERNETES[1:].split(".")
    stamp = " ".join(
        f"-X {package}.{var}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for var, value in (
            ("gitVersion", versions.KUBERNETES),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("buildDate", "1970-01-01T00:00:00Z"),
        )
    )
    # Without the version stamp the server reports v0.0.0-master and derives its emulated
    # version (and so its default feature gates) from that; the kubelet reports it to the node.
    _go(
        [
            "build",
            "-trimpath",
            f"-ldflags=-s -w {stamp}",
            "-o",
            str(target),
            f"k8s.io/kubernetes/cmd/{command}",
        ],
        work,
    )


def _build_etcd(target: Path) -> None:
    work = cache_dir() / "src" / "etcd"
    _write_module(
        work,
        "k8smcp.local/controlplane/etcd",
        [f"go.etcd.io/etcd/server/v3 {versions.ETCD}"],
        [],
        ["go.etcd.io/etcd/server/v3"],
    )
    _go(["mod", "tidy"], work)
    _go(["build", "-trimpath", "-ldflags=-s -w", "-o", str(target), "go.etcd.io/etcd/server/v3"], work)


def _given(env: str, name: str, version_marker: str) -> Path | None:
    """A binary named by `env`, or one on PATH whose `--version` mentions the pinned minor version."""
    value = os.environ.get(env)
    if value:
        path = Path(value).expanduser()
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{env}={value} is not an executable file")
        return path
    found = shutil.which(name)
    if found and version_marker in _version_of(Path(found)):
        return Path(found)
    return None


def kubectl_path() -> Path | None:
    """kubectl from PATH, else the one `build(nodes=True)` made when PATH had none."""
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    built = cache_dir() / "bin" / "kubectl"
    return built if built.exists() else None


def _helm_target() -> Path:
    return cache_root() / f"helm-{versions.HELM}" / "helm"


def helm_path() -> Path | None:
    """helm from $K8S_MCP_HELM, else the pinned one `build_helm()` put in the cache; None before.

    Not helm from PATH: the chart tests pin the version that lints and renders it."""
    given = os.environ.get(HELM_ENV)
    if given:
        return Path(given).expanduser()
    target = _helm_target()
    return target if target.exists() else None


def build_helm() -> Path:
    """Build helm at `versions.HELM` from its Go module into the cache, once (reused after).

    Like etcd: a generated module that requires it, so the Go module proxy is all it needs. The
    version stamps make `helm version` honest and `helm template` assume the control plane's
    Kubernetes version (helm's own default is 1.20)."""
    found = helm_path()
    if found is not None:
        return found
    with _build_lock():
        target = _helm_target()
        if target.exists():
            return target
        _say(f"building helm {versions.HELM} (first run on this machine; cached in {target.parent}) …")
        started = time.monotonic()
        work = cache_root() / "src" / f"helm-{versions.HELM}"
        package = "helm.sh/helm/v3/cmd/helm"
        _write_module(
            work, "k8smcp.local/controlplane/helm", [f"helm.sh/helm/v3 {versions.HELM}"], [], [package]
        )
        _go(["mod", "tidy"], work)
        major, minor, _ = versions.KUBERNETES[1:].split(".")
        stamps = {
            "internal/version.version": versions.HELM,
            "internal/version.gitTreeState": "clean",
            **{f"pkg/{p}.k8sVersionMajor": major for p in ("chartutil", "lint/rules")},
            **{f"pkg/{p}.k8sVersionMinor": minor for p in ("chartutil", "lint/rules")},
        }
        flags = " ".join(f"-X helm.sh/helm/v3/{name}={value}" for name, value in stamps.items())
        partial = target.with_name("helm.partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        _go(["build", "-trimpath", f"-ldflags=-s -w {flags}", "-o", str(partial), package], work)
        partial.rename(target)
        _say(f"built helm in {time.monotonic() - started:.0f}s")
        return target


def _version_of(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One build at a time per cache: a second `scripts/test` waits instead of racing the first."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(nodes: bool = False) -> Binaries:
    """Binaries ready to run: from the env vars, PATH (matching version), the cache, or a fresh build.

    `nodes` adds kubelet, kube-controller-manager, kube-scheduler and the test images.
    """
    with _build_lock():
        return _build(nodes)


def _build(nodes: bool) -> Binaries:
    bin_dir = cache_dir() / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    k8s_marker = versions.KUBERNETES.rsplit(".", 1)[0] + "."
    wanted: list[tuple[str, str, str]] = [
        ("kube-apiserver", APISERVER_ENV, k8s_marker),
        ("etcd", ETCD_ENV, "etcd Version: " + versions.ETCD[1:].rsplit(".", 1)[0] + "."),
    ]
    if nodes:
        wanted += [(name, NODE_ENV[name], k8s_marker) for name in NODE_COMMANDS]
        if not shutil.which("kubectl"):  # real-node tests compare with kubectl; a new machine may lack it
            wanted.append(("kubectl", KUBECTL_ENV, k8s_marker))
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name, env, marker in wanted:
        given = _given(env, name, marker)
        if given is not None:
            found[name] = given
        elif (bin_dir / name).exists():
            found[name] = bin_dir / name
        else:
            missing.append(name)
    kubernetes = [name for name in missing if name != "etcd"]
    for name in missing:
        target = bin_dir / name
        _say(f"building {name} (first run on this machine; cached in {bin_dir}) …")
        started = time.monotonic()
        partial = target.with_name(name + ".partial")
        if name == "etcd":
            _build_etcd(partial)
        else:
            _build_kubernetes(name, partial, kubernetes)
        partial.rename(target)
        _say(f"built {name} in {time.monotonic() - started:.0f}s")
        found[name] = target
    return Binaries(
        kube_apiserver=found["kube-apiserver"],
        etcd=found["etcd"],
        kubelet=found.get("kubelet"),
        kube_controller_manager=found.get("kube-controller-manager"),
        kube_scheduler=found.get("kube-scheduler"),
        kubectl=found.get("kubectl") or kubectl_path(),
        images=build_images(cache_dir()) if nodes else None,
    )
