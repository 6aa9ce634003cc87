"""Fast unit tests: no network, no cluster. Helpers to write sample kubeconfig files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import freezegun
import pytest
import yaml

# freezegun walks every loaded module's attributes; the kubernetes client builds its pydantic
# models lazily on attribute access, which must not happen while datetime is faked.
freezegun.configure(extend_ignore_list=["kubernetes"])


def kubeconfig(contexts: dict[str, str], *, user: dict[str, Any] | None = None) -> dict[str, Any]:
    """A kubeconfig with one cluster per context; `contexts` maps context name to server URL."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"{name}-cluster", "cluster": {"server": server}} for name, server in contexts.items()
        ],
        "users": [{"name": f"{name}-user", "user": user or {"token": "t0ken"}} for name in contexts],
        "contexts": [
            {"name": name, "context": {"cluster": f"{name}-cluster", "user": f"{name}-user"}}
            for name in contexts
        ],
        "current-context": next(iter(contexts), ""),
    }


WriteKubeconfig = Callable[..., Path]


@pytest.fixture
def write_kubeconfig(tmp_path: Path) -> WriteKubeconfig:
    def write(filename: str, contexts: dict[str, str], directory: Path | None = None, **kw: Any) -> Path:
        path = (directory or tmp_path / "kube") / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(kubeconfig(contexts, **kw)))
        return path

    return write
