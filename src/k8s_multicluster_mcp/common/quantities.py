"""Kubernetes resource quantities ("250m", "1.5Gi", "2e3") as numbers, and back as kubectl prints
them (cores in millicores, memory in Mi)."""

from __future__ import annotations

import re

_SUFFIX = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse(value: object) -> float | None:
    """The quantity's value (cores, bytes); None when it is not a quantity."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except ValueError:
        return None


def cpu(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def memory(size: float) -> str:
    return f"{round(size / 2**20)}Mi"
