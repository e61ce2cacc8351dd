"""Which failures the pipeline retries and which it dead-letters (core/transient.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from yiyang.core.transient import is_transient
from yiyang.pipeline.bus import BusClosed

pytestmark = pytest.mark.unit


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(cls: type[sa_exc.DBAPIError], sqlstate: str | None, **kw: bool) -> Exception:
    return cls("SELECT 1", {}, _PgError(sqlstate), **kw)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(sa_exc.OperationalError, None),  # connection refused while restarting
        _wrapped(sa_exc.OperationalError, "57P01"),  # admin shutdown
        _wrapped(sa_exc.OperationalError, "57P03"),  # the database system is starting up
        _wrapped(sa_exc.OperationalError, "08006"),  # connection failure
        _wrapped(sa_exc.DBAPIError, "40001"),  # serialization failure
        _wrapped(sa_exc.DBAPIError, "40P01"),  # deadlock
        _wrapped(sa_exc.DBAPIError, "XX000", connection_invalidated=True),
        sa_exc.TimeoutError("QueuePool limit reached"),
        TimeoutError(),
        ConnectionResetError(),
        BusClosed("JetStream did not store the messages"),
    ],
)
def test_outages_are_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        OverflowError("date value out of range"),
        KeyError("k"),
        _wrapped(sa_exc.IntegrityError, "23505"),
        _wrapped(sa_exc.DataError, "22021"),  # invalid byte sequence
        _wrapped(sa_exc.ProgrammingError, "42703"),
    ],
)
def test_data_errors_are_not(exc: Exception) -> None:
    assert not is_transient(exc)


def test_a_cause_counts() -> None:
    try:
        try:
            raise ConnectionRefusedError("database unreachable")
        except ConnectionRefusedError as inner:
            raise RuntimeError("could not store") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
