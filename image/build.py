"""Build the server's container image as an OCI archive: `python -m image.build --wheel W --output F`.

One recipe for a release runner and for this machine, with no daemon and no registry (a base image
cannot be pulled here): run as root (debootstrap and chroot need it) with `debootstrap` installed.

1. A Debian rootfs (`debootstrap --variant=minbase`, with python3, python3-venv, ca-certificates)
   from the mirror `--mirror` or `$DEBIAN_MIRROR` names, else the first one this machine's apt
   sources use. Cached under ~/.cache/k8s-multicluster-mcp/image/ (`--no-cache` for releases).
2. In a copy of it, by the image's own Python: a venv at /opt/k8s-multicluster-mcp with the wheel
   and the versions poetry.lock pins (pip, setuptools removed after).
3. The image keeps only what runs the server, like distroless images: the files of the Debian
   packages python3 needs (dependency closure; no shell, coreutils, dpkg, apt, perl or debconf),
   the whole standard library with its bytecode, the venv, the CA bundle, and /etc/passwd with
   `nonroot` (uid 65532). No docs, man pages or locales.
4. One gzip layer, mtime 0 and root-owned entries, and an image config: user 65532:65532,
   entrypoint the console script, `PYTHONDONTWRITEBYTECODE` (the chart mounts a read-only root
   filesystem), `HOME=/tmp` (an emptyDir in the chart).
5. A smoke run of the assembled filesystem as uid 65532 (`--version`, the server's modules import,
   TLS verifies with the bundled CAs' store, no /bin/sh).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from image import oci

SUITE = "bookworm"
"""Debian 12: Python 3.11, within the package's supported range and what the lock resolves for."""
BUILD_PACKAGES = ("python3", "python3-venv", "ca-certificates")
RUNTIME_ROOTS = ("python3",)
NOT_SHIPPED = frozenset(
    {
        # Needed by maintainer scripts at install time only, or a shell: never at run time.
        "bash",
        "dash",
        "coreutils",
        "debconf",
        "debianutils",
        "dpkg",
        "install-info",
        "perl-base",
        "readline-common",
        "sensible-utils",
        # Zone data comes from the venv's tzdata wheel; the venv tools only build the image.
        "tzdata",
        "python3-venv",
        "python3.11-venv",
        "python3-pip-whl",
        "python3-setuptools-whl",
    }
)
DROPPED = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/lintian/", "usr/share/locale/")
VENV = "opt/k8s-multicluster-mcp"
BUILD_ONLY_IN_VENV = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth")
NONROOT = 65532
NAME = "k8s-multicluster-mcp"
RECIPE_VERSION = "1"
"""Bump when the rootfs recipe (suite, packages, debootstrap options) changes: new cache key."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "k8s-multicluster-mcp" / "image"


def apt_mirror() -> str:
    """The Debian mirror: $DEBIAN_MIRROR, else the first this machine's apt sources use."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        if not source.is_file():
            continue
        text = source.read_text(errors="replace")
        # deb822 (`URIs: …` + `Suites: …`) or one-line (`deb URI suite …`) entries.
        for block in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", block, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", block, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
        for match in re.finditer(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", text, re.M):
            return match.group(1)
    raise SystemExit(
        f"no Debian mirror for {SUITE}: set DEBIAN_MIRROR or pass --mirror (apt names none here)"
    )


def _run(argv: list[str], **kwargs: object) -> None:
    print("+", " ".join(argv), file=sys.stderr)
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def _chroot() -> str:
    """chroot's path on this machine (the commands run in the rootfs get the rootfs's PATH)."""
    found = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")
    if found is None:
        raise SystemExit("chroot is not installed (coreutils)")
    return found


def rootfs_tarball(mirror: str, *, use_cache: bool, work: Path) -> Path:
    """A tarball of the debootstrapped build rootfs (cached unless `use_cache` is false)."""
    recipe = f"{RECIPE_VERSION}|{SUITE}|{','.join(BUILD_PACKAGES)}|{oci.arch()}"
    key = hashlib.sha256(recipe.encode()).hexdigest()
    cached = cache_dir() / f"rootfs-{SUITE}-{key[:12]}.tar"
    if use_cache and cached.exists():
        return cached
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is not installed (apt-get install debootstrap debian-archive-keyring)")
    target = work / "debootstrap"
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BUILD_PACKAGES)}",
            SUITE,
            str(target),
            mirror,
        ],
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(target / "var/cache/apt/archives", ignore_errors=True)
    out = cached if use_cache else work / "rootfs.tar"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        tar.add(target, arcname=".")
    partial.rename(out)
    shutil.rmtree(target)
    return out


def _host_ca_bundle() -> Path:
    """The CA bundle this machine's pip trusts (a TLS-inspecting proxy's CA may be in it)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    import ssl

    default = ssl.get_default_verify_paths().cafile
    if default and Path(default).is_file():
        return Path(default)
    raise SystemExit("no CA bundle found for pip: set PIP_CERT or SSL_CERT_FILE")


PASSED_TO_PIP = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT")
PROXIES = ("http_proxy", "https_proxy", "no_proxy")


def install_app(root: Path, wheel: Path, lock: Path, constraints_script: Path) -> None:
    """A venv at /opt/k8s-multicluster-mcp inside `root`, holding the wheel and its locked deps."""
    build = root / "tmp/build"
    build.mkdir(parents=True)
    for source in (wheel, lock, constraints_script):
        shutil.copy(source, build / source.name)
    shutil.copy(_host_ca_bundle(), build / "ca.crt")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    chroot = [_chroot(), str(root)]
    # Only what pip needs from this machine's environment; its find-links and caches are host paths.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp/build",
        "PIP_CERT": "/tmp/build/ca.crt",
        "SSL_CERT_FILE": "/tmp/build/ca.crt",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        **{k: v for k, v in os.environ.items() if k in PASSED_TO_PIP or k.lower() in PROXIES},
    }
    python = f"/{VENV}/bin/python"
    _run([*chroot, "python3", "-m", "venv", f"/{VENV}"], env=env)
    with (build / "constraints.txt").open("w") as out:
        # The versions poetry.lock pins, markers evaluated by the image's own Python.
        _run(
            [*chroot, python, f"/tmp/build/{constraints_script.name}", f"/tmp/build/{lock.name}"],
            env=env,
            stdout=out,
        )
    _run(
        [
            *chroot,
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--constraint",
            "/tmp/build/constraints.txt",
            f"/tmp/build/{wheel.name}",
        ],
        env=env,
    )
    _run([*chroot, python, "-m", "pip", "uninstall", "--quiet", "--yes", "pip", "setuptools"], env=env)
    shutil.rmtree(build)
    (root / "etc/resolv.conf").unlink()


def _dpkg_status(root: Path) -> dict[str, dict[str, str]]:
    """Installed packages of the rootfs: name -> fields (Depends, Pre-Depends, Provides, Architecture)."""
    packages: dict[str, dict[str, str]] = {}
    for stanza in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            packages[fields["Package"]] = fields
    return packages


def runtime_packages(packages: dict[str, dict[str, str]]) -> list[str]:
    """The dependency closure of RUNTIME_ROOTS among installed packages, minus NOT_SHIPPED."""
    provided: dict[str, str] = {}
    for name, fields in packages.items():
        for virtual in fields.get("Provides", "").split(","):
            if virtual.strip():
                provided.setdefault(virtual.split("(")[0].strip(), name)

    def installed(alternative: str) -> str | None:
        name = alternative.split("(")[0].strip().split(":")[0]
        return name if name in packages else provided.get(name)

    wanted: set[str] = set()
    todo = list(RUNTIME_ROOTS)
    while todo:
        name = todo.pop()
        if name in wanted or name in NOT_SHIPPED:
            continue
        wanted.add(name)
        fields = packages[name]
        for relation in ",".join(filter(None, (fields.get("Pre-Depends"), fields.get("Depends")))).split(","):
            if not relation.strip():
                continue
            # `a | b`: the first alternative that is installed satisfies it.
            found = next(filter(None, (installed(alt) for alt in relation.split("|"))), None)
            if found is None:
                raise SystemExit(f"{name} needs {relation.strip()!r}, which is not installed in the rootfs")
            todo.append(found)
    return sorted(wanted)


def _package_files(root: Path, name: str, architecture: str) -> list[str]:
    info = root / "var/lib/dpkg/info"
    for candidate in (info / f"{name}:{architecture}.list", info / f"{name}.list"):
        if candidate.exists():
            return [line.lstrip("/") for line in candidate.read_text().splitlines() if line.strip("/. ")]
    raise SystemExit(f"no file list for installed package {name}")


def _canonical(root: Path, relative: str) -> str:
    """`relative` with every directory symlink in its parents resolved inside `root` (merged /usr)."""
    parts = [p for p in relative.split("/") if p]
    resolved: list[str] = []
    for hops, part in enumerate(parts[:-1]):
        resolved.append(part)
        here = root.joinpath(*resolved)
        while here.is_symlink():
            if hops > 40:
                raise SystemExit(f"symlink loop under {relative}")
            target = os.readlink(here)
            base = [] if target.startswith("/") else resolved[:-1]
            resolved = [p for p in os.path.normpath("/".join([*base, target.lstrip("/")])).split("/") if p]
            here = root.joinpath(*resolved)
    return "/".join([*resolved, parts[-1]]) if parts else ""


def _walk(root: Path, relative: str) -> Iterator[str]:
    yield relative
    base = root / relative
    if base.is_dir() and not base.is_symlink():
        for path in sorted(base.rglob("*")):
            yield str(path.relative_to(root))


def runtime_files(root: Path) -> list[str]:
    """Every path (relative to `root`) that goes into the image, parents first."""
    packages = _dpkg_status(root)
    chosen: set[str] = set()
    for name in runtime_packages(packages):
        architecture = packages[name].get("Architecture", "all")
        for path in _package_files(root, name, architecture):
            full = root / path
            if not (full.exists() or full.is_symlink()) or (full.is_dir() and not full.is_symlink()):
                continue  # a package's directories come in as the parents of its files
            chosen.add(_canonical(root, path))
    trees = ["usr/lib/python3.11", VENV, "etc/ssl/certs/ca-certificates.crt"]
    for tree in trees:
        chosen.update(_canonical(root, p) for p in _walk(root, tree))
    for top in sorted(root.iterdir()):  # merged /usr: /bin, /lib, /lib64, /sbin are symlinks
        if top.is_symlink():
            chosen.add(top.name)
    chosen = {p for p in chosen if p and not p.startswith(DROPPED)}
    venv_site = f"{VENV}/lib/python3.11/site-packages/"
    chosen = {p for p in chosen if not p.startswith(tuple(venv_site + b for b in BUILD_ONLY_IN_VENV))}
    with_parents: set[str] = set()
    for path in chosen:
        parts = path.split("/")
        with_parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        with_parents.add(path)
    return sorted(with_parents)


def write_layer(root: Path, files: Iterable[str], target: Path) -> None:
    """An uncompressed, reproducible layer tar: the files, the users, and the directories runc needs."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        oci.add_base(
            tar,
            passwd=f"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT}:{NONROOT}::/tmp:/sbin/nologin\n",
            group=f"root:x:0:\nnonroot:x:{NONROOT}:\n",
        )
        for name in files:
            if name in oci.BASE_ENTRIES:
                continue
            path = root / name
            st = path.lstat()
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = stat.S_IMODE(st.st_mode), 0, 0, 0
            if stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                tar.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                info.size = st.st_size
                with path.open("rb") as f:
                    tar.addfile(info, f)


SMOKE = """
import ssl, sys
import k8s_multicluster_mcp.cli, k8s_multicluster_mcp.server, kubernetes.client
import cryptography.hazmat.bindings._rust, orjson, pydantic_core
assert ssl.create_default_context().cert_store_stats()["x509_ca"] > 50, "no CA certificates"
print("imports ok", sys.version.split()[0])
"""


def smoke(layer: Path, work: Path, entrypoint: list[str], env: list[str]) -> None:
    """Run the assembled filesystem as uid 65532: the console script, the imports, the CA store."""
    root = work / "smoke"
    root.mkdir()
    with tarfile.open(layer) as tar:
        tar.extractall(root, filter="fully_trusted")  # our own layer, just written
    if (root / "bin/sh").exists() or (root / "usr/bin/sh").exists():
        raise SystemExit("the image has a shell; it should not")
    user = f"--userspec={NONROOT}:{NONROOT}"
    environment = dict(item.split("=", 1) for item in env)
    for argv in ([*entrypoint, "--version"], [f"/{VENV}/bin/python", "-c", SMOKE]):
        done = subprocess.run(
            [_chroot(), user, str(root), *argv], env=environment, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"smoke run {argv[-1][:40]!r} failed:\n{done.stdout}{done.stderr}")
        print(done.stdout.strip(), file=sys.stderr)
    shutil.rmtree(root)


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def version_of(pyproject: Path) -> str:
    """The package version the wheel built from `pyproject` carries (the image's tag)."""
    found = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M)  # [project]'s, the first
    if found is None:
        raise SystemExit(f"{pyproject} names no version")
    return found.group(1)


def build(wheel: Path, output: Path, *, name: str, mirror: str, use_cache: bool, repo: Path) -> str:
    """Build the image archive; return its manifest digest."""
    if os.geteuid() != 0:
        raise SystemExit("building the image needs root (debootstrap, chroot)")
    version = _version(wheel)
    entrypoint = [f"/{VENV}/bin/k8s-multicluster-mcp"]
    env = [
        f"PATH=/{VENV}/bin:/usr/bin",
        "HOME=/tmp",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    ]
    with tempfile.TemporaryDirectory(prefix="k8s-mcp-image-") as tmp:
        work = Path(tmp)
        tarball = rootfs_tarball(mirror, use_cache=use_cache, work=work)
        root = work / "rootfs"
        root.mkdir()
        with tarfile.open(tarball) as tar:
            tar.extractall(root, filter="fully_trusted")  # a rootfs we built: devices, setuid and all
        install_app(root, wheel, repo / "poetry.lock", repo / "scripts/lock-constraints")
        layer_tar = work / "layer.tar"
        write_layer(root, runtime_files(root), layer_tar)
        shutil.rmtree(root)
        smoke(layer_tar, work, entrypoint, env)
        blob = oci.layer(layer_tar, compress=True)
        revision = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        config = {
            "User": f"{NONROOT}:{NONROOT}",
            "Entrypoint": entrypoint,
            "Cmd": [],
            "Env": env,
            "WorkingDir": "/tmp",
            "Labels": {
                "org.opencontainers.image.title": NAME,
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.licenses": "MIT",
                **({"org.opencontainers.image.revision": revision} if revision else {}),
            },
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        digest = oci.write_archive(output, f"{name}:{version}", [blob], config, history="image/build.py")
    print(f"{output}: {name}:{version} {digest} ({output.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return digest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m image.build", description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the built wheel to install")
    parser.add_argument("--output", type=Path, required=True, help="the OCI archive to write")
    parser.add_argument(
        "--name", default=f"localhost/{NAME}", help=f"image name without tag (default localhost/{NAME})"
    )
    parser.add_argument("--mirror", help="Debian mirror (default $DEBIAN_MIRROR, else this machine's apt's)")
    parser.add_argument("--no-cache", action="store_true", help="debootstrap afresh (releases)")
    args = parser.parse_args(argv)
    if not args.wheel.is_file():
        parser.error(f"--wheel {args.wheel}: no such file (build one with `python -m build --wheel`)")
    repo = Path(__file__).resolve().parent.parent
    digest = build(
        args.wheel.resolve(),
        args.output.resolve(),
        name=args.name,
        mirror=args.mirror or apt_mirror(),
        use_cache=not args.no_cache,
        repo=repo,
    )
    print(digest)


if __name__ == "__main__":
    main()
