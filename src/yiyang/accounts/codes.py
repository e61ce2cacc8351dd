"""One-time codes typed by a person (an invitation to link an elder, a sign-in code sent by
SMS): digits drawn from ``secrets``, only a keyed hash stored, attempts counted and locked
with the sign-in throttle (``accounts.throttle``, the ``login_throttle`` table) under a scope
of their own."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy.orm import Session

from yiyang.accounts import repository, throttle
from yiyang.core.config import get_settings
from yiyang.core.errors import TooManyAttempts
from yiyang.core.i18n import gettext as _

# Five wrong codes within 15 minutes lock further tries for 15 minutes.
LIMITS = throttle.Limits(5, dt.timedelta(minutes=15), dt.timedelta(minutes=15))


def new_code(digits: int) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def digest(purpose: str, code: str) -> str:
    """The stored form of a code: HMAC-SHA256 keyed with the deployment's secret and the
    purpose, so a leaked table does not give codes away by a table of all 10^n hashes."""
    key = f"{get_settings().secret_key}:{purpose}".encode()
    return hmac.new(key, code.strip().encode(), hashlib.sha256).hexdigest()


def locked(session: Session, scope: str, key: str, at: dt.datetime) -> TooManyAttempts | None:
    until = throttle.locked_until(repository.counter(session, scope, "", key), at)
    return _locked(until, at) if until else None


def count_failure(
    session: Session,
    scope: str,
    key: str,
    at: dt.datetime,
    limits: throttle.Limits = LIMITS,
) -> throttle.Counter:
    """One more wrong code (or one more code sent) for ``key`` — a user, a phone number, a
    client address — in ``scope``."""
    value = throttle.after_failure(
        repository.counter_for_update(session, scope, "", key, at), at, limits
    )
    repository.store_counter(session, scope, "", key, value, at)
    return value


def forget(session: Session, scope: str, key: str) -> None:
    repository.forget_counter(session, scope, "", key)


def _locked(until: dt.datetime, at: dt.datetime) -> TooManyAttempts:
    minutes = throttle.minutes_left(until, at)
    return TooManyAttempts(
        _("Too many wrong codes. Try again in %(minutes)d minutes.", minutes=minutes),
        retry_after=minutes * 60,
    )


class WrongCode(TooManyAttempts):
    """A wrong or expired code; the attempt is counted, so its writes stand."""

    status_code = 400
    code = "wrong_code"
    keeps_writes = True


class CodeLocked(TooManyAttempts):
    keeps_writes = True


def refusal(value: throttle.Counter, at: dt.datetime, message: str) -> TooManyAttempts:
    """The refusal for a wrong code: locked when this failure reached the limit."""
    if value.locked_until is not None:
        minutes = throttle.minutes_left(value.locked_until, at)
        return CodeLocked(
            _("Too many wrong codes. Try again in %(minutes)d minutes.", minutes=minutes),
            retry_after=minutes * 60,
        )
    return WrongCode(message)
