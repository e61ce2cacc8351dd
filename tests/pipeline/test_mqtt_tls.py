"""The MQTT listener over TLS (``mqtts://``) against a private Mosquitto with TLS listeners, and
certificates made here with openssl: a CA, a server certificate naming localhost/127.0.0.1, one
naming another host, and a client certificate.

An SOS published over TLS becomes an alert; a listener that does not trust the broker's
certificate, or whose certificate names another host, does not connect and logs why; a broker
that requires a client certificate takes the listener only with one."""

from __future__ import annotations

import asyncio
import getpass
import logging
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from yiyang.alarms.models import Alert
from yiyang.core import db
from yiyang.pipeline.transports.mqtt import MqttListener

from ..conftest import require_or_skip
from .conftest import eventually, message

pytestmark = pytest.mark.pipeline

_CA_CONF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""
_LEAF_EXT = """\
subjectAltName = {names}
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = {usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    conf = folder / f"{name}.cnf"
    conf.write_text(_CA_CONF.format(cn=f"Yiyang test {name}"))
    crt, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-config", conf, "-extensions", "ca", *_EC,
        "-days", "2", "-keyout", key, "-out", crt,
    )  # fmt: skip
    return crt, key


def _make_leaf(
    folder: Path, name: str, ca: tuple[Path, Path], names: str, usage: str = "serverAuth"
) -> tuple[Path, Path]:
    """A certificate signed by ``ca`` with subjectAltName ``names``."""
    key, csr, crt = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    ext = folder / f"{name}.ext"
    ext.write_text(_LEAF_EXT.format(names=names, usage=usage))
    _openssl("req", "-new", *_EC, "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-days", "2",
        "-set_serial", str(random.getrandbits(63)), "-extfile", ext, "-out", crt,
    )  # fmt: skip
    return crt, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsBroker:
    ca: Path  # the CA that signed the broker's certificates
    other_ca: Path  # a CA the broker's certificates do not chain to
    client_cert: Path  # signed by ``ca``, accepted where a client certificate is required
    client_key: Path
    port: int  # certificate names localhost and 127.0.0.1
    wrong_name_port: int  # certificate names elsewhere.invalid only
    client_cert_port: int  # requires a client certificate signed by ``ca``


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    for tool in ("mosquitto", "openssl"):
        if shutil.which(tool) is None:
            require_or_skip(f"no `{tool}` binary", "Mosquitto with TLS")
    folder = tmp_path_factory.mktemp("mqtt-tls")
    ca = _make_ca(folder, "ca")
    other_ca = _make_ca(folder, "other-ca")
    server = _make_leaf(folder, "server", ca, "DNS:localhost,IP:127.0.0.1")
    wrong = _make_leaf(folder, "wrong-name", ca, "DNS:elsewhere.invalid")
    client = _make_leaf(folder, "client", ca, "DNS:yiyang-gateway", usage="clientAuth")
    ports = [_free_port() for _ in range(3)]
    listeners = [
        (ports[0], server, ""),
        (ports[1], wrong, ""),
        (ports[2], server, "require_certificate true\nuse_identity_as_username true\n"),
    ]
    conf = folder / "mosquitto.conf"
    conf.write_text(
        # the current user: as root Mosquitto would otherwise switch to `mosquitto`, which
        # cannot read the keys in this private folder
        f"user {getpass.getuser()}\nallow_anonymous true\npersistence false\n"
        + "".join(
            f"listener {port} 127.0.0.1\ncafile {ca[0]}\ncertfile {crt}\nkeyfile {key}\n{extra}"
            for port, (crt, key), extra in listeners
        )
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for port in ports:
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if broker.poll() is not None:
                        err = broker.stderr.read() if broker.stderr else b""
                        raise AssertionError(f"mosquitto exited: {err!r}") from None
                    time.sleep(0.1)
            else:
                raise AssertionError("mosquitto did not open its TLS listeners")
        yield TlsBroker(ca[0], other_ca[0], client[0], client[1], *ports)
    finally:
        broker.terminate()
        broker.wait(5)


def _publish_over_tls(port: int, ca: Path, serial: str, body: bytes) -> None:
    """Publish to the device's uplink topic over TLS, as a device would (QoS 1)."""
    import paho.mqtt.client as paho

    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    pub.tls_set(ca_certs=str(ca))  # checks the broker's certificate and name
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pub.publish(f"yiyang/v1/devices/{serial}/up", body, qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()


def _count_alerts(elder_id: int) -> int:
    with db.unit_of_work() as session:
        query = select(func.count()).select_from(Alert).where(Alert.elder_id == elder_id)
        return int(session.scalar(query) or 0)


@pytest.mark.mqtt
def test_an_sos_published_over_tls_becomes_an_alert(
    tls_broker: TlsBroker, kit: Any, settings_env: Any
) -> None:
    """The settings reach the listener through the pipeline (YIYANG_MQTT_CA_FILE); the broker
    has TLS listeners only, so being connected means the connection is TLS."""
    from yiyang.pipeline.runtime import Pipeline

    settings_env(mqtt_ca_file=str(tls_broker.ca))
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")

    async def main() -> None:
        p = Pipeline(
            mqtt_url=f"mqtts://127.0.0.1:{tls_broker.port}",
            mqtt_client_id=f"tls-{uuid.uuid4().hex[:8]}",
            loops=False,
        )
        await p.start()
        try:
            listener = p.mqtt
            assert listener is not None and listener.tls is not None
            assert await eventually(listener.connected.is_set)
            await asyncio.sleep(0.3)  # the SUBSCRIBE goes right after CONNACK
            _publish_over_tls(tls_broker.port, tls_broker.ca, k["sos_button"], orjson.dumps(sos))
            await eventually(lambda: _count_alerts(k["elder_id"]), 10)
        finally:
            await p.stop()

    asyncio.run(main())
    assert _count_alerts(k["elder_id"]) == 1


class _NoGateway:
    """The refused listeners never get a message to store."""

    async def store(self, raws: list[Any]) -> None:
        raise AssertionError("a listener that is not connected received a message")


def _connects(url: str, caplog: pytest.LogCaptureFixture, **tls: str) -> bool:
    """Whether a listener with these TLS settings gets a CONNACK within 2 s."""
    caplog.set_level(logging.INFO, logger="yiyang.pipeline.transports.mqtt")

    async def main() -> bool:
        listener = MqttListener(_NoGateway(), url, f"tls-{uuid.uuid4().hex[:8]}", **tls)  # type: ignore[arg-type]
        await listener.start()
        try:
            return await eventually(listener.connected.is_set, 2)
        finally:
            await listener.stop()

    return asyncio.run(main())


@pytest.mark.mqtt
@pytest.mark.parametrize("trust", ["system store", "another CA"])
def test_a_listener_that_does_not_trust_the_ca_does_not_connect(
    tls_broker: TlsBroker, caplog: pytest.LogCaptureFixture, trust: str
) -> None:
    ca_file = "" if trust == "system store" else str(tls_broker.other_ca)
    assert not _connects(f"mqtts://127.0.0.1:{tls_broker.port}", caplog, ca_file=ca_file)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("certificate verify failed" in e for e in errors), errors
    assert f"MQTT TLS with 127.0.0.1:{tls_broker.port} failed" in errors[0]


@pytest.mark.mqtt
def test_a_certificate_for_another_host_is_refused(
    tls_broker: TlsBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed by the trusted CA but naming elsewhere.invalid: the server name check refuses."""
    url = f"mqtts://127.0.0.1:{tls_broker.wrong_name_port}"
    assert not _connects(url, caplog, ca_file=str(tls_broker.ca))
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "mismatch" in errors[0].lower(), errors
    # the same CA, a certificate naming this host: connects (the refusal was the name)
    caplog.clear()
    assert _connects(f"mqtts://127.0.0.1:{tls_broker.port}", caplog, ca_file=str(tls_broker.ca))
    assert any("over TLS" in r.getMessage() for r in caplog.records)


@pytest.mark.mqtt
def test_a_broker_that_requires_a_client_certificate_takes_ours(
    tls_broker: TlsBroker, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"mqtts://127.0.0.1:{tls_broker.client_cert_port}"
    ca = str(tls_broker.ca)
    assert not _connects(url, caplog, ca_file=ca)
    assert _connects(
        url,
        caplog,
        ca_file=ca,
        cert_file=str(tls_broker.client_cert),
        key_file=str(tls_broker.client_key),
    )


def test_tls_settings_need_an_mqtts_url(tmp_path: Path) -> None:
    """A CA file with mqtt:// would silently run without TLS: refused at start-up. mqtts://
    without a port means 8883, and the context checks the server's name."""
    gateway: Any = _NoGateway()
    with pytest.raises(ValueError, match="mqtts://"):
        MqttListener(gateway, "mqtt://broker:1883", "x", ca_file="/etc/ssl/certs/ca.pem")
    with pytest.raises(ValueError, match="mqtt:// or mqtts://"):
        MqttListener(gateway, "tcp://broker:1883", "x")
    listener = MqttListener(gateway, "mqtts://broker", "x")
    assert listener.port == 8883 and listener.tls is not None and listener.tls.check_hostname
    assert MqttListener(gateway, "mqtt://broker", "x").tls is None
    with pytest.raises(FileNotFoundError):
        MqttListener(gateway, "mqtts://broker", "x", ca_file=str(tmp_path / "missing.pem"))
