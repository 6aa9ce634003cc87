"""Validated server settings, built from command-line flags and environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Transport = Literal["stdio", "http"]


def split_path_list(value: str) -> list[Path]:
    """Split a KUBECONFIG-style list: `:` on POSIX, `;` on Windows (both accepted when unambiguous)."""
    separator = os.pathsep
    if separator == ":" and ";" in value and ":" not in value:
        separator = ";"
    return [Path(part).expanduser() for part in value.split(separator) if part.strip()]


class Settings(BaseModel):
    """Everything the server needs to know at start; immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch: bool = False
    kubeconfig_dir: Path | None = Field(default_factory=lambda: Path("~/.kube").expanduser())
    kubeconfig: tuple[Path, ...] = ()
    kubeconfig_env: tuple[Path, ...] = ()
    contexts: tuple[str, ...] = ()
    read_only: bool = False
    disable_destructive: bool = False
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: LogLevel = "WARNING"
    request_timeout: float = Field(default=5.0, gt=0, le=300)
    cache_ttl: float = Field(default=10.0, ge=0, le=3600)
    max_workers: int = Field(default=16, ge=1, le=256)

    @field_validator("contexts")
    @classmethod
    def _patterns_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip() for p in value if p.strip())
        if value and not cleaned:
            raise ValueError("--contexts was given but names no context pattern")
        return cleaned
