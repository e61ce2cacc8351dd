"""Shared by the browser tests wherever they live (loaded by the root conftest as a plugin): a real
`yiyang serve` on a fresh, migrated SQLite database with demo data, Debian Chromium, and the
module-scoped ``server``/``browser`` and per-test ``page`` fixtures."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TEMPLATES: dict[tuple[Any, ...], Path] = {}


def _template(elders: int, seed: int, env_extra: dict[str, str]) -> Path:
    """A migrated SQLite database with the demo data, made once per test session for each
    (elders, seed, settings): each server gets a copy of it, not a migration and a demo load of
    its own (tens of seconds, repeated for every browser test module before)."""
    key = (elders, seed, tuple(sorted(env_extra.items())))
    if key not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="yiyang-browser-db-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        env = {
            **os.environ,
            "YIYANG_DATABASE_URL": f"sqlite:///{folder / 'yiyang.db'}",
            **env_extra,
        }
        cli = [sys.executable, "-m", "yiyang"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*cli, "demo-data", "--elders", str(elders), "--seed", str(seed)],
            env=env,
            check=True,
            capture_output=True,
        )
        _TEMPLATES[key] = folder / "yiyang.db"
    return _TEMPLATES[key]


@contextmanager
def running_server(
    folder: Path, elders: int, seed: int, env_extra: dict[str, str]
) -> Iterator[str]:
    """``yiyang serve`` on a copy of the session's demo database for these arguments."""
    env = {**os.environ, "YIYANG_DATABASE_URL": f"sqlite:///{folder / 'yiyang.db'}", **env_extra}
    template = _template(elders, seed, env_extra)
    for suffix in ("", "-wal", "-shm"):  # the file and, if SQLite left them, its WAL pair
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", folder / f"yiyang.db{suffix}")
    cli = [sys.executable, "-m", "yiyang"]
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


CHROMIUM = os.environ.get("YIYANG_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def require_chromium() -> None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium); browser tests skip"
        if CI:
            pytest.fail(message + " — required under CI=true")
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_chromium()
    # the page tests need no device pipeline listening on the shared MQTT broker
    with running_server(
        tmp_path_factory.mktemp("browser"), 300, 5, {"YIYANG_MQTT_URL": ""}
    ) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=ARGS,
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
