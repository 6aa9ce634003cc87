"""The distribution itself: wheel contents, metadata, and `pipx run` from a package index.

Before the first real publish this proves the name, the console script and the metadata are right:
the built wheel is served from a local index on loopback (pypiserver), and `pipx run
k8s-multicluster-mcp --version` installs it from there exactly as a user's MCP client would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def wheel(dist: Path) -> Path:
    (found,) = dist.glob("*.whl")
    return found


def test_wheel_has_only_the_package_and_its_metadata(dist: Path) -> None:
    with zipfile.ZipFile(wheel(dist)) as zf:
        names = zf.namelist()
        top = {n.split("/")[0] for n in names}
        assert top == {"k8s_multicluster_mcp", f"k8s_multicluster_mcp-{VERSION}.dist-info"}
        entry_points = zf.read(f"k8s_multicluster_mcp-{VERSION}.dist-info/entry_points.txt").decode()
        metadata = zf.read(f"k8s_multicluster_mcp-{VERSION}.dist-info/METADATA").decode()
    assert "k8s-multicluster-mcp=k8s_multicluster_mcp.cli:main" in entry_points.replace(" ", "")
    assert "k8s_multicluster_mcp/py.typed" in names
    assert f"Version: {VERSION}" in metadata
    assert "License-Expression: MIT" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert "Requires-Dist: mcp (>=2.3,<3)" in metadata or "Requires-Dist: mcp<3,>=2.3" in metadata


def test_sdist_has_sources_and_license(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "LICENSE", "src/k8s_multicluster_mcp/cli.py"} <= names


def normal_index() -> str:
    """The index dependencies normally come from: the user's pip setting, else pip's default."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


@pytest.fixture(scope="module")
def local_index(dist: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            str(BIN / "pypi-server"),
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--fallback-url",
            normal_index(),
            str(dist),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "k8s-multicluster-mcp/", timeout=1) as response:
                    if b"k8s_multicluster_mcp" in response.read():
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("pypiserver did not start")
        yield url
    finally:
        server.terminate()
        server.wait(10)


def pipx(tmp_path: Path, *args: str, index: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    if index:
        env["PIP_INDEX_URL"] = index
    return subprocess.run(
        [str(BIN / "pipx"), *args], capture_output=True, text=True, timeout=900, env=env, check=False
    )


def test_pipx_run_from_a_package_index(local_index: str, tmp_path: Path) -> None:
    done = pipx(tmp_path, "run", "--no-cache", "k8s-multicluster-mcp", "--version", index=local_index)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"k8s-multicluster-mcp {VERSION}"


def test_pipx_run_spec_wheel(dist: Path, tmp_path: Path) -> None:
    done = pipx(
        tmp_path, "run", "--no-cache", "--spec", str(wheel(dist)), "k8s-multicluster-mcp", "--version"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"k8s-multicluster-mcp {VERSION}"
