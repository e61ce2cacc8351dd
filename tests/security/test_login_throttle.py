"""Sign-in hardening (issue #14, item 7): slow-down and lock per (username, client address), a
throttle per address sized for a call centre behind one NAT address, the client address from
trusted proxies only, unknown usernames answered exactly like known ones, and a CSRF-protected
sign-in form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.requests import Request

from yiyang.accounts import service
from yiyang.accounts.models import User
from yiyang.audit.models import AuditEvent
from yiyang.core.auth import client_ip
from yiyang.core.config import get_settings
from yiyang.core.errors import NotAuthenticated, TooManyAttempts

from ..conftest import PASSWORD, login_form_token

pytestmark = pytest.mark.security

ATTACKER = "203.0.113.9"
SEAT = "198.51.100.20"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "failure_delay", lambda n: 0.0)  # the wait is tested on its own


@pytest.fixture
def from_address(app, connection) -> Iterator:  # type: ignore[no-untyped-def]
    """from_address("203.0.113.9") → a client whose TCP peer is that address."""
    clients: list[TestClient] = []

    def make(host: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver", client=(host, 50000))
        c.cookies.set("lang", "en")
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def token(c: TestClient, username: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    return c.post(
        "/api/auth/token", json={"username": username, "password": password}, headers=headers
    )


def test_a_stranger_elsewhere_cannot_lock_the_operator_out(from_address, session) -> None:
    attacker, seat = from_address(ATTACKER), from_address(SEAT)
    codes = [token(attacker, "operator", "guess").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert token(attacker, "operator", PASSWORD).status_code == 429  # locked for the attacker
    r = token(seat, "operator", PASSWORD)  # … not for the operator at her seat
    assert r.status_code == 200, r.text
    locks = session.scalars(select(AuditEvent).where(AuditEvent.action == "account_locked")).all()
    assert [(e.actor_username, e.ip) for e in locks] == [("operator", ATTACKER)]
    failed = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "login_failed", AuditEvent.actor_username == "operator"
        )
    ).all()
    assert len(failed) == 5 and {e.ip for e in failed} == {ATTACKER}


def test_unknown_usernames_are_answered_exactly_like_known_ones(from_address) -> None:
    c = from_address(ATTACKER)

    def answers(username: str) -> list[tuple[int, dict, str | None]]:
        out = []
        for _ in range(6):
            r = token(c, username, "guess")
            out.append((r.status_code, r.json(), r.headers.get("retry-after")))
        return out

    known, unknown = answers("operator"), answers("no-such-user")
    assert known == unknown
    assert [status for status, _, _ in known] == [401, 401, 401, 401, 429, 429]


def test_every_refused_password_is_hashed_known_unknown_or_inactive(
    from_address, session, monkeypatch
) -> None:
    verified: list[str] = []
    original = PasswordHasher.verify

    def counting(self, hash, password):  # type: ignore[no-untyped-def]
        verified.append(password)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    session.execute(update(User).where(User.username == "volunteer").values(active=False))
    session.commit()
    c = from_address(ATTACKER)
    for username, password in [
        ("operator", "wrong-1"),
        ("no-such-user", "wrong-2"),
        ("volunteer", PASSWORD),  # deactivated: the right password is still refused
    ]:
        r = token(c, username, password)
        assert r.status_code == 401
        assert r.json()["detail"] == {
            "code": "not_authenticated",
            "message": "Wrong username or password.",
        }
    assert verified == ["wrong-1", "wrong-2", PASSWORD]


def test_one_address_spraying_usernames_is_locked_and_others_are_not(
    from_address, session, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "login_address_max_failures", 6)
    sprayer, seat = from_address(ATTACKER), from_address(SEAT)
    names = ["street", "community", "doctor", "ghost-1", "ghost-2", "ghost-3"]
    codes = [token(sprayer, name, "Winter2026!").status_code for name in names]
    assert codes == [401, 401, 401, 401, 401, 429]
    assert token(sprayer, "admin", PASSWORD).status_code == 429  # the whole address waits
    assert token(seat, "admin", PASSWORD).status_code == 200
    locks = session.scalars(select(AuditEvent).where(AuditEvent.action == "address_locked")).all()
    assert [(e.entity_id, e.ip) for e in locks] == [(ATTACKER, ATTACKER)]


def test_a_call_centre_on_one_nat_address_survives_a_shift_of_typos(
    from_address, monkeypatch
) -> None:
    """Successes do not count towards the address limit, and one seat's typos lock only that
    seat's username."""
    monkeypatch.setattr(get_settings(), "login_address_max_failures", 6)
    nat = from_address(SEAT)
    for _ in range(10):  # a whole shift signing in, again and again
        assert token(nat, "operator", PASSWORD).status_code == 200
        assert token(nat, "operator2", PASSWORD).status_code == 200
    assert [token(nat, "operator2", "typo").status_code for _ in range(5)] == [401] * 4 + [429]
    assert token(nat, "operator", PASSWORD).status_code == 200  # her colleague is unaffected


def test_the_client_address_comes_from_trusted_proxies_only(from_address, monkeypatch) -> None:
    """Behind a trusted proxy the operator and an attacker share the proxy's TCP address; only
    X-Forwarded-For tells them apart. From an untrusted peer that header is ignored."""
    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.0.0.0/8")
    proxy = from_address("10.0.0.2")
    for _ in range(5):
        token(proxy, "operator", "guess", **{"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"})
    r = token(proxy, "operator", PASSWORD, **{"X-Forwarded-For": SEAT})
    assert r.status_code == 200, r.text
    # Not behind the proxy: a forged header does not escape the attacker's lock.
    direct = from_address(ATTACKER)
    r = token(direct, "street", "guess", **{"X-Forwarded-For": "192.0.2.1"})
    for n in range(4):
        r = token(direct, "street", "guess", **{"X-Forwarded-For": f"192.0.2.{n + 2}"})
    assert r.status_code == 429


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ("", "10.0.0.2", "198.51.100.7", "10.0.0.2"),  # no trusted proxies: the peer
        ("10.0.0.0/8", "203.0.113.9", "198.51.100.7", "203.0.113.9"),  # peer not trusted
        ("10.0.0.0/8", "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.0/8", "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        ("10.0.0.0/8,127.0.0.1/32", "127.0.0.1", "10.1.1.1", "10.1.1.1"),  # all trusted: left
        ("10.0.0.0/8", "10.0.0.2", "garbage, 10.0.0.7", "10.0.0.7"),
        ("10.0.0.0/8", "10.0.0.2", None, "10.0.0.2"),
        ("fd00::/8", "fd00::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_ip(monkeypatch, trusted, peer, forwarded, client) -> None:
    monkeypatch.setattr(get_settings(), "trusted_proxies", trusted)
    assert client_ip(_request(peer, forwarded)) == client


def test_locks_expire_and_windows_lapse_on_the_injected_clock(session) -> None:
    t0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    minute = dt.timedelta(minutes=1)

    def attempt(password: str, at: dt.datetime) -> str:
        try:
            service.login(session, "street", password, kind="api", ip=ATTACKER, at=at)
        except TooManyAttempts:
            return "locked"
        except NotAuthenticated:
            return "wrong"
        return "ok"

    assert [attempt("bad", t0 + n * minute) for n in range(5)] == ["wrong"] * 4 + ["locked"]
    assert attempt(PASSWORD, t0 + 18 * minute) == "locked"  # 15 minutes from the 5th failure
    assert attempt(PASSWORD, t0 + 19 * minute) == "ok"
    # Failures spread wider than the window never add up to a lock.
    spread = [attempt("bad", t0 + 30 * minute + n * 16 * minute) for n in range(6)]
    assert spread == ["wrong"] * 6


def test_the_sign_in_form_refuses_a_post_without_its_csrf_token(client, session) -> None:
    form = {"username": "street", "password": PASSWORD, "next": "/elders"}
    r = client.post("/login", data=form, follow_redirects=False)  # a cross-site form post
    assert r.status_code == 403 and "yiyang_session" not in r.cookies
    assert "The form has expired." in r.text
    r = client.post("/login", data={**form, "csrf_token": "x" * 32}, follow_redirects=False)
    assert r.status_code == 403  # a token that is not this browser's
    r = client.post(
        "/login", data={**form, "csrf_token": login_form_token(client)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.cookies.get("yiyang_session")
    logins = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "login", AuditEvent.actor_username == "street"
        )
    ).all()
    assert len(logins) == 1


def test_the_sign_in_page_in_chinese_locks_in_chinese(client) -> None:
    client.cookies.delete("lang")
    for _ in range(5):
        page = client.post(
            "/login",
            data={"username": "street", "password": "bad", "csrf_token": login_form_token(client)},
        )
    assert page.status_code == 429
    assert "登录失败次数过多" in page.text
