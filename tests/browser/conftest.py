"""Shared by the browser tests: a real `yiyang serve` on a fresh, migrated SQLite database
with demo data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    folder: Path, elders: int, seed: int, env_extra: dict[str, str]
) -> Iterator[str]:
    env = {**os.environ, "YIYANG_DATABASE_URL": f"sqlite:///{folder / 'yiyang.db'}", **env_extra}
    cli = [sys.executable, "-m", "yiyang"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*cli, "demo-data", "--elders", str(elders), "--seed", str(seed)],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression until it is truthy. Not ``page.wait_for_function``: that
    compiles the expression inside the page, which our Content-Security-Policy (no
    'unsafe-eval') forbids; ``page.evaluate`` goes through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)
