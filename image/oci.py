"""OCI image layout archives, written with the standard library: no daemon, no registry, no tool.

`ctr images import` (containerd), `skopeo copy oci-archive:…` and `podman load` read what
`write_archive` writes: a tarball holding `oci-layout`, `index.json` (named by the annotations
containerd and skopeo read) and the blobs (layers, config, manifest) under `blobs/sha256/`.
Every entry is written with mtime 0 and root ownership, so the same inputs give the same bytes.

Written by hand because the task is small and fixed (one platform, a few layers) and the
daemonless tools Debian packages (umoci, buildah) would add a system dependency to every test
run and to the release runner for what is a few dozen lines of JSON and tar.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_CHUNK = 1 << 20


def arch() -> str:
    """This machine's architecture as OCI and Go name it (amd64, arm64)."""
    machine = platform.machine()
    if machine not in _GO_ARCH:
        raise RuntimeError(f"no OCI architecture known for machine {machine!r}")
    return _GO_ARCH[machine]


@dataclass(frozen=True)
class Layer:
    """One layer blob as stored in the archive, and what the image config must say of it."""

    path: Path
    digest: str
    """sha256 of the blob as stored (compressed or not)."""
    diff_id: str
    """sha256 of the uncompressed tar (the config's `rootfs.diff_ids`)."""
    size: int
    media_type: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def layer(tar: Path, *, compress: bool) -> Layer:
    """A layer from an uncompressed tar file; gzip-compressed beside it when `compress`."""
    diff_id = _sha256(tar)
    if not compress:
        return Layer(tar, diff_id, diff_id, tar.stat().st_size, "application/vnd.oci.image.layer.v1.tar")
    blob = tar.with_name(tar.name + ".gz")
    # mtime=0 and no file name in the gzip header: the same tar always compresses to the same bytes.
    with (
        tar.open("rb") as source,
        blob.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as target,
    ):
        shutil.copyfileobj(source, target, _CHUNK)
    gz = "application/vnd.oci.image.layer.v1.tar+gzip"
    return Layer(blob, _sha256(blob), diff_id, blob.stat().st_size, gz)


def layer_from_bytes(directory: Path, data: bytes) -> Layer:
    """An uncompressed layer from an in-memory tar (small test images)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"layer-{hashlib.sha256(data).hexdigest()[:16]}.tar"
    path.write_bytes(data)
    return layer(path, compress=False)


def add_entry(tar: tarfile.TarFile, name: str, mode: int, data: bytes | None = None) -> None:
    """A root-owned directory (`data` None) or file in a layer, mtime 0."""
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid = mode, 0, 0, 0
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


BASE_ENTRIES = frozenset({"dev", "etc", "proc", "sys", "tmp", "etc/passwd", "etc/group"})


def add_base(tar: tarfile.TarFile, passwd: str, group: str) -> None:
    """What every image without a distribution needs: the directories runc mounts on, a
    world-writable /tmp, and the users (`BASE_ENTRIES`)."""
    for directory in ("dev", "etc", "proc", "sys"):
        add_entry(tar, directory, 0o755)
    add_entry(tar, "tmp", 0o1777)
    add_entry(tar, "etc/passwd", 0o644, passwd.encode())
    add_entry(tar, "etc/group", 0o644, group.encode())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _add_blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    _add_bytes(tar, f"blobs/sha256/{digest.removeprefix('sha256:')}", data)
    return digest


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_archive(target: Path, name: str, layers: list[Layer], config: dict[str, Any], history: str) -> str:
    """Write an OCI image layout tarball that imports as `name`; return its manifest digest.

    `config` is the image config's `config` object (Entrypoint, Cmd, Env, User, Labels, ...).
    """
    platform_arch = arch()
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for each in layers:
            info = tarfile.TarInfo(f"blobs/sha256/{each.digest.removeprefix('sha256:')}")
            info.size, info.mode, info.mtime = each.size, 0o644, 0
            with each.path.open("rb") as blob:
                tar.addfile(info, blob)
        image_config = _json(
            {
                "architecture": platform_arch,
                "os": "linux",
                "config": config,
                "rootfs": {"type": "layers", "diff_ids": [each.diff_id for each in layers]},
                "history": [{"created_by": history}],
            }
        )
        config_digest = _add_blob(tar, image_config)
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(image_config),
                },
                "layers": [
                    {"mediaType": each.media_type, "digest": each.digest, "size": each.size}
                    for each in layers
                ],
            }
        )
        manifest_digest = _add_blob(tar, manifest)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "platform": {"architecture": platform_arch, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                    },
                }
            ],
        }
        _add_bytes(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _json(index))
    partial.rename(target)
    return manifest_digest
