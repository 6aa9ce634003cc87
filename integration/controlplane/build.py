"""Build (or find) kube-apiserver and etcd binaries, cached outside the repo.

`k8s.io/kubernetes` cannot be `go install`ed: its go.mod points the k8s.io/* staging modules at
`./staging/...`. So we generate a tiny module that requires it and replaces every staging module
with its published version, and build the command from there. The generated files live in the
cache directory, never in the repo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from integration.controlplane import versions

CACHE_ENV = "K8S_MCP_CONTROLPLANE_CACHE"
APISERVER_ENV = "K8S_MCP_KUBE_APISERVER"
ETCD_ENV = "K8S_MCP_ETCD"
_STAGING_RE = re.compile(r"^\s*(k8s\.io/[A-Za-z0-9._-]+)\s*=>\s*\./staging/", re.M)


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path


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
            "the Go toolchain ('go') is not on PATH; it is needed to build kube-apiserver and etcd"
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


def _build_apiserver(target: Path) -> None:
    work = cache_dir() / "src" / "kubernetes"
    work.mkdir(parents=True, exist_ok=True)
    replaces = _staging_replaces(work)
    _write_module(
        work,
        "k8smcp.local/controlplane/kubernetes",
        [f"k8s.io/kubernetes {versions.KUBERNETES}"],
        replaces,
        ["k8s.io/kubernetes/cmd/kube-apiserver"],
    )
    _go(["mod", "tidy"], work)
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
    # version (and so its default feature gates) from that.
    _go(
        [
            "build",
            "-trimpath",
            f"-ldflags=-s -w {stamp}",
            "-o",
            str(target),
            "k8s.io/kubernetes/cmd/kube-apiserver",
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


def _version_of(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def build() -> Binaries:
    """Binaries ready to run: from the env vars, PATH (matching version), the cache, or a fresh build."""
    bin_dir = cache_dir() / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for name, env, marker, builder in (
        ("kube-apiserver", APISERVER_ENV, versions.KUBERNETES.rsplit(".", 1)[0] + ".", _build_apiserver),
        ("etcd", ETCD_ENV, "etcd Version: " + versions.ETCD[1:].rsplit(".", 1)[0] + ".", _build_etcd),
    ):
        given = _given(env, name, marker)
        if given is not None:
            found[name] = given
            continue
        target = bin_dir / name
        if not target.exists():
            _say(f"building {name} (first run on this machine; cached in {bin_dir}) …")
            started = time.monotonic()
            partial = target.with_suffix(".partial")
            builder(partial)
            partial.rename(target)
            _say(f"built {name} in {time.monotonic() - started:.0f}s")
        found[name] = target
    return Binaries(kube_apiserver=found["kube-apiserver"], etcd=found["etcd"])
