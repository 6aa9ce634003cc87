"""An estimate of the memory a store's records take, for `k8s_cache_status`.

Exact accounting would walk every record on every call; a sample of records, measured deeply
(strings shared between records through interning are counted once per sample), times the
count is close enough to say "this context costs 40 MB" and cheap enough to answer at once.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from datetime import datetime

from k8s_multicluster_mcp.sources.watch.store import KindStore

SAMPLE = 32


def deep_size(value: object, seen: set[int]) -> int:
    """Bytes of `value` and everything it holds that `seen` does not hold yet."""
    if id(value) in seen or value is None or isinstance(value, (bool, int, float)):
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, (str, bytes, datetime)):
        return size
    if isinstance(value, Mapping):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in value.items())
    if isinstance(value, (tuple, list, set, frozenset)):
        return size + sum(deep_size(v, seen) for v in value)
    slots = getattr(type(value), "__slots__", ())
    return size + sum(deep_size(getattr(value, name, None), seen) for name in slots)


def approx_bytes(store: KindStore) -> int:
    """Estimated bytes held by the records of `store`."""
    count = len(store)
    if not count:
        return 0
    sample = list(itertools.islice(store.select(), SAMPLE))
    seen: set[int] = set()
    return int(sum(deep_size(r, seen) for r in sample) / len(sample) * count)


__all__ = ["approx_bytes", "deep_size"]
