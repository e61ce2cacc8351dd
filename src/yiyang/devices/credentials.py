"""MQTT broker credentials for devices and vendor gateways (pure functions, no I/O).

Mosquitto authenticates clients from a ``password_file`` and authorises topics from an
``acl_file``. Yiyang issues each device (username = its serial) or vendor gateway (username =
its vendor code) a random password, shows it once, and keeps only Mosquitto's own hash of it
(``$7$``: PBKDF2-HMAC-SHA512, the format ``mosquitto_passwd`` writes), so ``yiyang mqtt-auth``
can write both files from the registry without ever storing a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

ITERATIONS = 101  # mosquitto_passwd's own default for $7$
TOPIC_PREFIX = "yiyang/v1/"


def new_password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify(password: str, hashed: str) -> bool:
    try:
        _, kind, rounds, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    expected = mosquitto_hash(password, base64.b64decode(salt), int(rounds))
    return hmac.compare_digest(expected.rsplit("$", 1)[1], digest)


def password_file(entries: Iterable[tuple[str, str]]) -> str:
    """``username:hash`` lines; a username may appear once (the first wins)."""
    seen: set[str] = set()
    lines = []
    for user, hashed in entries:
        if user in seen or ":" in user or not hashed:
            continue
        seen.add(user)
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


def acl_file(platform_user: str) -> str:
    """Devices write only their own topic, vendor gateways only their vendor's; the platform's
    user reads every uplink. (``%u`` is the connecting username.)"""
    return (
        "# written by `yiyang mqtt-auth`; reload Mosquitto (SIGHUP) after a change\n"
        f"user {platform_user}\n"
        f"topic read {TOPIC_PREFIX}#\n"
        "\n"
        f"pattern write {TOPIC_PREFIX}devices/%u/up\n"
        f"pattern write {TOPIC_PREFIX}vendors/%u/up\n"
    )
