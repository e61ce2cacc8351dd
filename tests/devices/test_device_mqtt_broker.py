"""The MQTT password a device manager issues on the device page is the one the broker accepts.

Mosquitto checks it: it authenticates from the ``password_file`` that ``yiyang mqtt-auth`` writes
from the registry (``devices.service.broker_users``: username = serial, Mosquitto's ``$7$``
hash; retired devices left out). Here a real Mosquitto loads the file written from the same
registry the page wrote to: the page's password connects, a wrong one and the replaced one do not,
and once the device is retired the next file refuses it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from yiyang.devices import credentials, service

from ..conftest import require_or_skip

pytestmark = [pytest.mark.pages, pytest.mark.mqtt]


def _write_files(session, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """What ``yiyang mqtt-auth`` writes, from this test's (uncommitted) registry."""
    devices, vendors = service.broker_users(session)
    entries = [("yiyang", credentials.mosquitto_hash("platform-secret")), *devices, *vendors]
    (folder / "passwd").write_text(credentials.password_file(entries))
    (folder / "acl").write_text(credentials.acl_file("yiyang"))


@contextmanager
def _mosquitto(folder: Path) -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {folder / 'passwd'}\nacl_file {folder / 'acl'}\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(folder / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        broker.terminate()
        broker.wait(5)


def _accepted(port: int, user: str, secret: str) -> bool:
    import paho.mqtt.client as mqtt

    result: list[object] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex}")
    c.username_pw_set(user, secret)
    c.on_connect = lambda _c, _u, _f, reason, _p: result.append(reason)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for _ in range(200):  # waits for the broker's answer; asserts nothing about time
            if result:
                break
            time.sleep(0.05)
    finally:
        c.disconnect()
        c.loop_stop()
    assert result, "the broker did not answer"
    return not getattr(result[0], "is_failure", True)


def _password(page: str) -> str:
    match = re.search(r'id="mqtt-password">([^<]+)<', page)
    assert match
    return match.group(1)


def test_the_password_issued_on_the_page_is_the_one_mosquitto_accepts(
    client, browser_login, session, tmp_path
) -> None:
    if shutil.which("mosquitto") is None:
        require_or_skip("no `mosquitto` binary", "Mosquitto")
    csrf = browser_login("community")
    created = client.post(
        "/devices/new",
        data={"csrf_token": csrf, "device_type": "sos_button", "serial": "SOS-MQ-1"},
        follow_redirects=False,
    )
    device_id = int(created.headers["location"].rsplit("/", 1)[1])
    url = f"/devices/{device_id}/mqtt-password"
    first = _password(client.post(url, data={"csrf_token": csrf}).text)
    second = _password(client.post(url, data={"csrf_token": csrf, "confirm": "1"}).text)

    _write_files(session, tmp_path)
    with _mosquitto(tmp_path) as port:
        assert _accepted(port, "SOS-MQ-1", second)
        assert not _accepted(port, "SOS-MQ-1", first)  # replaced
        assert not _accepted(port, "SOS-MQ-1", "not-the-password")

    retired = client.post(
        f"/devices/{device_id}/retire",
        data={"csrf_token": csrf, "reason": "lost"},
        follow_redirects=False,
    )
    assert retired.status_code == 303
    _write_files(session, tmp_path)
    assert "SOS-MQ-1:" not in (tmp_path / "passwd").read_text()
    with _mosquitto(tmp_path) as port:
        assert not _accepted(port, "SOS-MQ-1", second)
