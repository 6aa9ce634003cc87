"""What kinds a cluster serves (API discovery), and which one a user's word names.

`kubectl get` accepts a kind (`Deployment`), a plural (`deployments`), a singular, a short name
(`deploy`) or a qualified name (`deployments.apps`, `deployments.v1.apps`); so does every tool
here, for every kind a cluster serves, CRDs included. Discovery is asked once per context (one
request with aggregated discovery, one per API group without it), kept for `TTL` seconds and asked
again when a word names nothing (a CRD installed since), at most every `REFRESH_ON_MISS` seconds
(so a model retrying a typo costs at most two requests a second).
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from k8s_multicluster_mcp.common.errors import UnknownKindError
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.kube import api, impersonation
from k8s_multicluster_mcp.model.records import Raw

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

TTL = 600.0
REFRESH_ON_MISS = 1.0
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)
_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


@dataclass(frozen=True)
class ResourceType:
    """One kind as one cluster serves it at one version."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group: what kubectl accepts and prints."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def is_secret(self) -> bool:
        return self.group == "" and self.plural == "secrets"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection (in `namespace`, when namespaced) or of one object."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        return f"{root}/{name}" if name else root

    def names(self) -> set[str]:
        """Every word that names this kind, lowercase."""
        return {self.kind.lower(), self.plural, self.singular, *self.short_names} - {""}


def _resource(group: str, version: str, item: Raw) -> ResourceType | None:
    """A ResourceType from an aggregated-discovery resource, or None for one that cannot be listed."""
    response = item.get("responseKind") or {}
    plural = item.get("resource") or ""
    if not plural or "/" in plural:
        return None
    return ResourceType(
        group=group,
        version=version,
        kind=response.get("kind") or "",
        plural=plural,
        singular=item.get("singularResource") or "",
        namespaced=item.get("scope") == "Namespaced",
        short_names=tuple(item.get("shortNames") or ()),
        verbs=tuple(item.get("verbs") or ()),
    )


def parse_aggregated(document: Raw) -> list[ResourceType]:
    """Every resource of an `APIGroupDiscoveryList`, in priority order (groups as listed,
    versions preferred first)."""
    types: list[ResourceType] = []
    for group in document.get("items") or ():
        name = (group.get("metadata") or {}).get("name") or ""
        for version in group.get("versions") or ():
            for item in version.get("resources") or ():
                resource = _resource(name, version.get("version") or "", item)
                if resource is not None:
                    types.append(resource)
    return types


def parse_resource_list(group: str, version: str, document: Raw) -> list[ResourceType]:
    """Every listable resource of a legacy `APIResourceList` (`/api/v1`, `/apis/apps/v1`)."""
    types = []
    for item in document.get("resources") or ():
        plural = item.get("name") or ""
        if not plural or "/" in plural:
            continue
        types.append(
            ResourceType(
                group=group,
                version=version,
                kind=item.get("kind") or "",
                plural=plural,
                singular=item.get("singularName") or (item.get("kind") or "").lower(),
                namespaced=bool(item.get("namespaced")),
                short_names=tuple(item.get("shortNames") or ()),
                verbs=tuple(item.get("verbs") or ()),
            )
        )
    return types


def fetch(client: ApiClient, timeout: float) -> list[ResourceType]:
    """Every resource the API server serves, by aggregated discovery where it has it."""
    types: list[ResourceType] = []
    for root in ("/api", "/apis"):
        document = api.get_json(client, root, accept=AGGREGATED, timeout=timeout)
        if document.get("kind") == "APIGroupDiscoveryList":
            types.extend(parse_aggregated(document))
        elif root == "/api":
            for version in document.get("versions") or ():
                listed = api.get_json(client, f"/api/{version}", timeout=timeout)
                types.extend(parse_resource_list("", version, listed))
        else:
            for group in document.get("groups") or ():
                preferred = (group.get("preferredVersion") or {}).get("groupVersion")
                if not preferred:
                    continue
                listed = api.get_json(client, f"/apis/{preferred}", timeout=timeout)
                types.extend(parse_resource_list(group.get("name") or "", preferred.split("/")[-1], listed))
    return types


def check_word(word: str) -> str:
    """`word` if it could name a kind (letters, digits, '.', '-'): checked before any request."""
    if not _WORD.match(word.strip()):
        raise UnknownKindError(
            f"invalid kind {shown(word)}: a kind is a word like pods, Deployment, deploy or foos.example.com"
        )
    return word.strip()


def split_word(word: str) -> tuple[str, str | None, str | None]:
    """`deployments.v1.apps` -> ('deployments', 'v1', 'apps'); `pods` -> ('pods', None, None)."""
    name, _, rest = word.strip().lower().partition(".")
    if not rest:
        return name, None, None
    head, _, group = rest.partition(".")
    if _VERSION.match(head):
        return name, head, group
    return name, None, rest


def resolve(
    types: Sequence[ResourceType], word: str, group: str | None = None, version: str | None = None
) -> ResourceType | None:
    """The kind `word` names (+ the original tools' optional group/version), first in priority."""
    name, word_version, word_group = split_word(word)
    group = word_group if group is None or not group.strip() else group.strip().lower()
    if group in ("core", "v1"):
        group = ""
    version = (version or "").strip() or word_version
    for resource in types:
        if name not in resource.names():
            continue
        if group is not None and resource.group != group:
            continue
        if version and resource.version != version:
            continue
        return resource
    return None


def closest(types: Iterable[ResourceType], word: str, n: int = 4) -> list[str]:
    """The served kinds nearest to `word`, as `plural.group` names."""
    by_name: dict[str, str] = {}
    for resource in types:
        for name in resource.names():
            by_name.setdefault(name, resource.qualified)
    found = difflib.get_close_matches(split_word(word)[0], list(by_name), n=n * 3, cutoff=0.6)
    return list(dict.fromkeys(by_name[name] for name in found))[:n]


def unknown_kind(types: Sequence[ResourceType], word: str, group: str | None, version: str | None) -> str:
    """One line: `word` names nothing served here, and what is near it."""
    asked = shown(word) + "".join(
        f" {label} {shown(value)}" for label, value in (("group", group), ("version", version)) if value
    )
    near = closest(types, word)
    hint = f"closest served kinds: {', '.join(near)}" if near else "k8s_apis lists the served kinds"
    return f"{asked} is not a served kind; {hint}"


class Discovery:
    """Per-context discovery results, fetched on first use and refreshed on a miss."""

    def __init__(self, fetcher: Callable[[Any, float], list[ResourceType]] = fetch) -> None:
        self._fetch = fetcher
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, list[ResourceType]]] = {}

    def types(
        self, context: str, client: ApiClient, timeout: float, *, refresh: bool = False
    ) -> list[ResourceType]:
        """What `context` serves; fetched when unknown, older than `TTL` or `refresh` is asked
        (then only if the last fetch is older than `REFRESH_ON_MISS`)."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(context)
        if known is not None:
            age = now - known[0]
            if age < TTL and not (refresh and age >= REFRESH_ON_MISS):
                return known[1]
        # As the server, whoever asks: API servers serve discovery to every authenticated user
        # unfiltered, so one answer per context serves every caller (no caller in its key).
        with impersonation.as_server():
            types = self._fetch(client, timeout)
        with self._lock:
            self._known[context] = (time.monotonic(), types)
        return types

    def resolve(
        self,
        context: str,
        client: ApiClient,
        timeout: float,
        word: str,
        group: str | None = None,
        version: str | None = None,
    ) -> ResourceType:
        """The kind `word` names in `context`; `UnknownKindError` naming the closest ones."""
        types = self.types(context, client, timeout)
        found = resolve(types, word, group, version)
        if found is None:
            types = self.types(context, client, timeout, refresh=True)
            found = resolve(types, word, group, version)
        if found is None:
            raise UnknownKindError(unknown_kind(types, word, group, version))
        return found

    def forget(self, context: str) -> None:
        with self._lock:
            self._known.pop(context, None)
