from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import AmbiguousContextError, ContextNotFoundError, NoContextsError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from tests.conftest import WriteKubeconfig


@pytest.fixture
def fleet_dir(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> Path:
    write_kubeconfig("prod.yaml", {"prod-eu-1": "https://10.0.0.1", "prod-us-1": "https://10.0.0.2"})
    write_kubeconfig("staging", {"staging": "https://10.0.1.1", "shared": "https://10.0.1.2"})
    write_kubeconfig("dev.yml", {"dev": "https://10.0.2.1", "shared": "https://10.0.2.2"})
    kube = tmp_path / "kube"
    (kube / "broken.yaml").write_text("apiVersion: v1\nclusters: [\n  - oops")
    (kube / ".hidden.yaml").write_text("not even yaml: [")
    (kube / "README.md").write_text("# notes")
    (kube / "kubectx").write_text("prod-eu-1\n")  # kubectx state file: a bare string, not a kubeconfig
    (kube / "cache").mkdir()
    return kube


def names(registry: ContextRegistry) -> list[str]:
    return list(registry.inventory().contexts)


def test_reads_every_file_and_names_duplicates_unambiguously(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir)
    inventory = registry.inventory()
    assert sorted(inventory.contexts) == sorted(
        ["prod-eu-1", "prod-us-1", "staging", "shared@staging", "dev", "shared@dev.yml"]
    )
    assert [(c.raw_name, sorted(c.names)) for c in inventory.collisions] == [
        ("shared", ["shared@dev.yml", "shared@staging"])
    ]
    assert inventory.contexts["shared@dev.yml"].server == "https://10.0.2.2"
    assert inventory.contexts["shared@staging"].server == "https://10.0.1.2"


def test_malformed_file_is_reported_not_fatal(fleet_dir: Path) -> None:
    problems = ContextRegistry(directory=fleet_dir).inventory().problems
    assert [p.file.name for p in problems] == ["broken.yaml"]
    assert "malformed YAML at line 3" in problems[0].reason


def test_duplicate_name_alone_is_ambiguous_and_lists_candidates(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir)
    with pytest.raises(AmbiguousContextError, match=r"shared@staging") as info:
        registry.resolve("shared")
    assert "shared@dev.yml" in str(info.value)
    assert [c.name for c in registry.resolve("shared@dev.yml")] == ["shared@dev.yml"]


def test_partial_names_globs_and_lists(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir)
    assert [c.name for c in registry.resolve("eu")] == ["prod-eu-1"]
    assert [c.name for c in registry.resolve("EU-1")] == ["prod-eu-1"]
    assert sorted(c.name for c in registry.resolve("prod-*")) == ["prod-eu-1", "prod-us-1"]
    assert sorted(c.name for c in registry.resolve("dev, staging")) == ["dev", "staging"]
    assert sorted(c.name for c in registry.resolve(["dev", "prod-us-1"])) == ["dev", "prod-us-1"]
    assert len(registry.resolve(None)) == len(registry.resolve("*")) == len(registry.resolve("all")) == 6


def test_exact_name_wins_over_substring(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    write_kubeconfig("a", {"prod": "https://1", "prod-2": "https://2"})
    registry = ContextRegistry(directory=tmp_path / "kube")
    assert [c.name for c in registry.resolve("prod")] == ["prod"]


def test_errors_name_what_is_valid(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir)
    with pytest.raises(
        ContextNotFoundError, match=r"unknown context 'qa'\. Valid contexts: dev, shared@dev.yml, prod-eu-1"
    ):
        registry.resolve("qa")
    with pytest.raises(ContextNotFoundError, match=r"no context matches the pattern 'qa-\*'"):
        registry.resolve("qa-*")
    with pytest.raises(AmbiguousContextError, match=r"'prod' is ambiguous; it matches: prod-eu-1, prod-us-1"):
        registry.resolve("prod")
    with pytest.raises(AmbiguousContextError, match="acts on one"):
        registry.resolve_one("prod-*")


def test_allow_list_hides_other_contexts_everywhere(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir, allow=["prod-*", "dev"])
    assert sorted(names(registry)) == ["dev", "prod-eu-1", "prod-us-1"]
    with pytest.raises(ContextNotFoundError) as info:
        registry.resolve("staging")
    assert "staging" not in str(info.value).split("Valid contexts:")[1]
    assert registry.inventory().hidden == 3


def test_kubeconfig_env_list_and_explicit_files(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    a = write_kubeconfig("a.yaml", {"alpha": "https://1"}, directory=tmp_path / "x")
    b = write_kubeconfig("b.yaml", {"beta": "https://2"}, directory=tmp_path / "y")
    c = write_kubeconfig("c.yaml", {"gamma": "https://3"}, directory=tmp_path / "z")
    registry = ContextRegistry(directory=None, files=[c], env_files=[a, b, tmp_path / "missing-from-env"])
    assert sorted(names(registry)) == ["alpha", "beta", "gamma"]
    assert registry.inventory().problems == ()  # kubectl ignores missing KUBECONFIG entries


def test_same_file_from_two_sources_is_read_once(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    path = write_kubeconfig("config", {"only": "https://1"})
    registry = ContextRegistry(directory=path.parent, env_files=[path])
    assert names(registry) == ["only"]
    assert registry.inventory().collisions == ()


def test_missing_explicit_file_and_dir_are_reported(tmp_path: Path) -> None:
    registry = ContextRegistry(
        directory=tmp_path / "nope", directory_explicit=True, files=[tmp_path / "absent.yaml"]
    )
    reasons = sorted(p.reason for p in registry.inventory().problems)
    assert reasons == ["kubeconfig directory does not exist", "named by --kubeconfig but does not exist"]
    with pytest.raises(NoContextsError, match=r"no Kubernetes contexts found\. Looked in: --kubeconfig"):
        registry.resolve(None)


def test_context_with_missing_cluster_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.mkdir()
    (path / "cfg").write_text(
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n"
        "contexts:\n- name: orphan\n  context: {cluster: gone, user: u}\n"
    )
    inventory = ContextRegistry(directory=path).inventory()
    assert inventory.contexts == {}
    assert "refers to missing cluster 'gone'" in inventory.problems[0].reason


def test_files_are_reread_when_they_change(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    now = [0.0]
    registry = ContextRegistry(directory=tmp_path / "kube", clock=lambda: now[0])
    path = write_kubeconfig("one", {"first": "https://1"})
    assert names(registry) == ["first"]
    write_kubeconfig("two", {"second": "https://2"})
    path.write_text(path.read_text().replace("first", "renamed"))
    os.utime(path, ns=(1, 10**18))
    assert names(registry) == ["first"]  # re-checked at most once per interval
    now[0] += 5
    assert sorted(names(registry)) == ["renamed", "second"]


def test_auth_kinds_are_described(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    write_kubeconfig(
        "eks", {"eks": "https://1"}, user={"exec": {"command": "/usr/local/bin/aws", "args": ["eks"]}}
    )
    write_kubeconfig(
        "cert", {"cert": "https://2"}, user={"client-certificate-data": "x", "client-key-data": "y"}
    )
    write_kubeconfig("gke", {"gke": "https://3"}, user={"auth-provider": {"name": "gcp"}})
    contexts = ContextRegistry(directory=tmp_path / "kube").inventory().contexts
    assert {n: c.auth for n, c in contexts.items()} == {
        "cert": "client-cert",
        "eks": "exec:aws",
        "gke": "auth-provider:gcp",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("note: 2020-99-99\n", None),
        ("[" * 5000, None),
        ("kind: Config\nclusters: []\nnote: 2020-99-99\n", "malformed YAML: month must be in 1..12"),
        ("contexts: " + "[" * 5000, "malformed YAML: nested too deeply"),
    ],
)
def test_a_file_that_breaks_the_yaml_loader_is_that_files_problem_only(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig, text: str, reason: str | None
) -> None:
    """Not a YAML syntax error: the loader raises ValueError or RecursionError. A file that does
    not look like a kubeconfig is skipped quietly; one that does is reported; the rest is served."""
    write_kubeconfig("good.yaml", {"prod": "https://10.0.0.1"})
    (tmp_path / "kube" / "odd.yaml").write_text(text)
    inventory = ContextRegistry(directory=tmp_path / "kube").inventory()
    assert list(inventory.contexts) == ["prod"]
    assert [p.reason for p in inventory.problems] == ([reason] if reason else [])


def test_an_explicitly_named_file_that_breaks_the_loader_is_always_reported(tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    odd.write_text("[" * 5000)
    inventory = ContextRegistry(directory=None, files=[odd]).inventory()
    assert [p.reason for p in inventory.problems] == ["malformed YAML: nested too deeply"]


def test_a_bad_file_dropped_in_mid_session_changes_nothing_else(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    now = [0.0]
    registry = ContextRegistry(directory=tmp_path / "kube", clock=lambda: now[0])
    write_kubeconfig("good.yaml", {"prod": "https://10.0.0.1"})
    assert names(registry) == ["prod"]
    (tmp_path / "kube" / "dropped.yaml").write_text("kind: Config\nwhen: 2020-99-99\n")
    now[0] += 5
    assert names(registry) == ["prod"]
    assert registry.resolve("prod")[0].name == "prod"
    assert "malformed YAML" in registry.inventory().problems[0].reason


def test_kubeconfig_dir_naming_a_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("kind: Config\n")
    inventory = ContextRegistry(directory=path, directory_explicit=True).inventory()
    assert [p.reason for p in inventory.problems] == [
        "the kubeconfig directory is a file, not a directory (name it with --kubeconfig)"
    ]


def test_errors_echo_only_a_clipped_part_of_what_was_asked(fleet_dir: Path) -> None:
    registry = ContextRegistry(directory=fleet_dir)
    with pytest.raises(ContextNotFoundError) as info:
        registry.resolve("x" * 100_000)
    message = str(info.value)
    assert "(100000 characters)" in message
    assert len(message) < 400


def test_clients_built_at_once_on_many_threads_load_the_kubernetes_client_safely(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    """The client is imported on first use; its package imports itself circularly, so threads
    that race to import it used to see half-initialized modules (ImportError, _DeadlockError)."""
    write_kubeconfig("many.yaml", {f"c{i}": f"https://127.0.0.1:{9000 + i}" for i in range(8)})
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from k8s_multicluster_mcp.kube.contexts import ContextRegistry\n"
        f"registry = ContextRegistry(directory=Path({str(tmp_path / 'kube')!r}))\n"
        "assert 'kubernetes' not in sys.modules\n"
        "errors = []\n"
        "def build(ctx):\n"
        "    try:\n"
        "        registry.api_client(ctx)\n"
        "    except BaseException as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=build, args=(c,)) for c in registry.resolve(None)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(errors)\n"
    )
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
        assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr[-2000:]
