"""Misbehaving fake API servers on loopback, to stand beside the real ones in hardening tests.

Each is a plain-HTTP server on 127.0.0.1 that behaves the way a broken or hostile cluster does:
`Blackhole` accepts and never answers, `DripFeed` answers one byte at a time (every read inside the
client's timeout, the whole answer never), `EndlessPages` answers every list with a full page and
a fresh `continue` token forever. `kubeconfig()` writes a kubeconfig file pointing at one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import yaml


class FakeServer:
    """A loopback TCP server that hands each connection to `serve` on its own daemon thread."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.serve(conn)

    def serve(self, conn: socket.socket) -> None:
        """Handle one connection; the default holds it open and says nothing."""
        self._stop.wait()

    def read_request(self, conn: socket.socket) -> str | None:
        """The request line of the next request on `conn` (headers consumed), or None at EOF."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        with self._lock:
            self.requests += 1
        return data.split(b"\r\n", 1)[0].decode("latin-1")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()
        self._listener.close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Blackhole(FakeServer):
    """Accepts connections and never answers (a hung API server)."""


class DripFeed(FakeServer):
    """Answers every request one byte every `interval` seconds, forever."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        if self.read_request(conn) is None:
            return
        answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"items": ['
        for byte in itertools.chain(answer, itertools.repeat(ord(" "))):
            if self._stop.wait(self.interval):
                return
            conn.sendall(bytes([byte]))


def pod(index: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"endless-{index}", "namespace": "default", "uid": f"u-{index}"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }


class EndlessPages(FakeServer):
    """Answers every list with `page` pods and a new `continue` token, so the list never ends."""

    def __init__(self, page: int = 500) -> None:
        self.page = page
        self._served = 0
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        while self.read_request(conn) is not None:
            start = self._served
            self._served += self.page
            body = json.dumps(
                {
                    "kind": "PodList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1", "continue": f"token-{self._served}"},
                    "items": [pod(i) for i in range(start, start + self.page)],
                }
            ).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )


def kubeconfig(directory: Path, name: str, server: str, user: dict[str, Any] | None = None) -> Path:
    """Write `directory/name.yaml`: one context `name` for `server`, with a token unless `user`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": name, "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": name, "user": user or {"token": "x"}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            }
        )
    )
    return path


def hung_plugin(directory: Path, seconds: int = 90) -> Path:
    """An exec credential plugin that never answers in time, and starts a child that would outlive it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hung-get-token"
    path.write_text(f"#!/bin/sh\nsleep {seconds} &\nsleep {seconds}\n")
    path.chmod(0o755)
    return path


def exec_user(plugin: Path) -> dict[str, Any]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }


def processes_running(needle: str) -> list[str]:
    """Command lines of running processes that contain `needle` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmdline:
                found.append(cmdline.strip())
    return found


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
