"""The real-node test images, built from source at test time: no registry, no pull.

One static Go binary (`workload/main.go`, CGO off) makes both images: the workload image
`localhost/k8s-mcp-workload:test` (behaviour chosen by its arguments) and the pod sandbox image
`localhost/k8s-mcp-pause:test` (the same binary, `pause`). Each is a one-layer OCI image layout
tarball assembled here with tarfile/json/hashlib, which `ctr images import` loads into a node's
containerd. Cached by the hash of the source, so an edit of main.go rebuilds them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from integration.controlplane import versions

WORKLOAD_IMAGE = "localhost/k8s-mcp-workload:test"
PAUSE_IMAGE = "localhost/k8s-mcp-pause:test"
ABSENT_IMAGE = "127.0.0.1:1/k8s-mcp/absent:test"
"""An image that cannot be pulled: its registry is a closed port on loopback (no DNS, no network)."""

SOURCE = Path(__file__).with_name("workload") / "main.go"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Images:
    """The image tarballs, ready for `ctr images import`, and the names they import as."""

    workload: Path
    pause: Path
    workload_name: str = WORKLOAD_IMAGE
    pause_name: str = PAUSE_IMAGE

    def tarballs(self) -> list[Path]:
        return [self.pause, self.workload]


def _arch() -> str:
    machine = platform.machine()
    if machine not in _ARCH:
        raise RuntimeError(f"no Go architecture known for machine {machine!r}")
    return _ARCH[machine]


def _build_binary(work: Path, target: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain ('go') is not on PATH; it is needed to build the test images")
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module k8smcp.local/workload\n\ngo {versions.GO_DIRECTIVE}\n")
    shutil.copyfile(SOURCE, work / "main.go")
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": _arch(), "GOFLAGS": "-mod=mod"}
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

        def add(name: str, mode: int, data: bytes | None = None) -> None:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = mode, 0, 0, 0
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        for directory in ("dev", "etc", "proc", "sys"):
            add(directory, 0o755)
        add("tmp", 0o1777)
        add("etc/passwd", 0o644, b"root:x:0:0:root:/:/workload\nnobody:x:65534:65534:nobody:/:/workload\n")
        add("etc/group", 0o644, b"root:x:0:\nnobody:x:65534:\n")
        add("workload", 0o755, binary.read_bytes())
    return out.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}"


def _write_image(target: Path, name: str, layer: bytes, cmd: list[str]) -> None:
    """A one-layer OCI image layout tarball that `ctr images import` names `name`."""
    arch = _arch()
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layer_digest = _blob(tar, layer)
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {
                    "Entrypoint": ["/workload"],
                    "Cmd": cmd,
                    "Env": ["PATH=/"],
                    "WorkingDir": "/",
                },
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                "history": [{"created_by": "integration/controlplane/images.py"}],
            },
            sort_keys=True,
        ).encode()
        config_digest = _blob(tar, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": len(layer),
                    }
                ],
            },
            sort_keys=True,
        ).encode()
        manifest_digest = _blob(tar, manifest)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                    },
                }
            ],
        }
        for member, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index, sort_keys=True).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    partial.rename(target)


def build_images(cache: Path) -> Images:
    """The image tarballs for the current workload source, built into `cache` when missing."""
    key = hashlib.sha256(SOURCE.read_bytes() + versions.GO_DIRECTIVE.encode() + _arch().encode()).hexdigest()
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
