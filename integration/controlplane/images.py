"""The real-node test images, built from source at test time: no registry, no pull.

One static Go binary (`workload/main.go`, CGO off) makes both images: the workload image
`localhost/k8s-mcp-workload:test` (behaviour chosen by its arguments) and the pod sandbox image
`localhost/k8s-mcp-pause:test` (the same binary, `pause`). Each is a one-layer OCI image layout
tarball (`image.oci`, shared with the server's own image recipe), which `ctr images import` loads into a node's
containerd. Cached by the hash of the source, so an edit of main.go rebuilds them.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from image import oci
from integration.controlplane import versions

WORKLOAD_IMAGE = "localhost/k8s-mcp-workload:test"
PAUSE_IMAGE = "localhost/k8s-mcp-pause:test"
ABSENT_IMAGE = "127.0.0.1:1/k8s-mcp/absent:test"
"""An image that cannot be pulled: its registry is a closed port on loopback (no DNS, no network)."""

SOURCE = Path(__file__).with_name("workload") / "main.go"


@dataclass(frozen=True)
class Images:
    """The image tarballs, ready for `ctr images import`, and the names they import as."""

    workload: Path
    pause: Path
    workload_name: str = WORKLOAD_IMAGE
    pause_name: str = PAUSE_IMAGE

    def tarballs(self) -> list[Path]:
        return [self.pause, self.workload]


def _build_binary(work: Path, target: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain ('go') is not on PATH; it is needed to build the test images")
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module k8smcp.local/workload\n\ngo {versions.GO_DIRECTIVE}\n")
    shutil.copyfile(SOURCE, work / "main.go")
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": oci.arch(), "GOFLAGS": "-mod=mod"}
    done = subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(target), "."],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the workload binary failed:\n{done.stderr[-4000:]}")


def _layer(binary: Path) -> bytes:
    """A reproducible tar: /workload, /etc/passwd and /etc/group, and the directories runc mounts on."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        oci.add_base(
            tar,
            passwd="root:x:0:0:root:/:/workload\nnobody:x:65534:65534:nobody:/:/workload\n",
            group="root:x:0:\nnobody:x:65534:\n",
        )
        oci.add_entry(tar, "workload", 0o755, binary.read_bytes())
    return out.getvalue()


def _write_image(target: Path, name: str, layer: bytes, cmd: list[str]) -> None:
    """A one-layer OCI image layout tarball that `ctr images import` names `name`."""
    blob = oci.layer_from_bytes(target.parent, layer)
    config = {"Entrypoint": ["/workload"], "Cmd": cmd, "Env": ["PATH=/"], "WorkingDir": "/"}
    oci.write_archive(target, name, [blob], config, history="integration/controlplane/images.py")


def build_images(cache: Path) -> Images:
    """The image tarballs for the current workload source, built into `cache` when missing."""
    key = hashlib.sha256(
        SOURCE.read_bytes() + versions.GO_DIRECTIVE.encode() + oci.arch().encode()
    ).hexdigest()
    directory = cache / "images" / key[:16]
    images = Images(workload=directory / "workload.tar", pause=directory / "pause.tar")
    if images.workload.exists() and images.pause.exists():
        return images
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "workload"
    _build_binary(cache / "src" / "workload", binary)
    layer = _layer(binary)
    _write_image(images.pause, PAUSE_IMAGE, layer, ["pause"])
    _write_image(images.workload, WORKLOAD_IMAGE, layer, ["serve"])
    return images


SERVER_IMAGE = "localhost/k8s-multicluster-mcp"
"""The server's own image as the real-node deployment test loads it (tag: the package version)."""
_REPO = Path(__file__).resolve().parents[2]
_SERVER_SOURCES = ("src", "image", "pyproject.toml", "poetry.lock", "scripts/lock-constraints")


@dataclass(frozen=True)
class ServerImage:
    """The server's image archive built by the release recipe (image/build.py) from this checkout."""

    archive: Path
    name: str
    tag: str


def server_image_problem() -> str | None:
    """Why the server's image cannot be built here (the recipe needs root and debootstrap), or None."""
    if os.geteuid() != 0:
        return "building the server's image needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None and shutil.which("debootstrap", path="/usr/sbin:/sbin") is None:
        return "building the server's image needs debootstrap (scripts/install-node-packages installs it)"
    return None


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for source in _SERVER_SOURCES:
        root = _REPO / source
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(_REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def server_image(cache: Path) -> ServerImage:
    """The server's image for this checkout's sources, built (about 2 minutes, 5 with a new rootfs)
    into `cache` when they changed; the wheel is built first, as scripts/build-image does."""
    from image import build as recipe  # the recipe imports nothing of the test fleet

    version = recipe.version_of(_REPO / "pyproject.toml")
    directory = cache / "server-image" / _sources_digest()[:16]
    image = ServerImage(directory / "k8s-multicluster-mcp.oci.tar", SERVER_IMAGE, version)
    if image.archive.exists():
        return image
    directory.mkdir(parents=True, exist_ok=True)
    wheels = directory / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(_REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{done.stderr[-4000:]}")
    (wheel,) = wheels.glob("*.whl")
    recipe.build(
        wheel, image.archive, name=SERVER_IMAGE, mirror=recipe.apt_mirror(), use_cache=True, repo=_REPO
    )
    shutil.rmtree(wheels)
    return image
