"""One rule for an action taken from a page (a button that posts): run it in a savepoint, let
the request's session dependency commit it before the response (ADR 0011), and hand a refusal
back to the page to show instead of raising it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from yiyang.core.errors import DomainError


def run_action(session: Session, op: Callable[[], object]) -> DomainError | None:
    """Run ``op`` in a savepoint. On success its writes are flushed (committed with the
    request) and None is returned. On a refusal (``DomainError``) its writes are undone —
    except for a refusal that ``keeps_writes`` (a refused code attempt is still recorded) — and
    the refusal is returned for the page to show. Any other error propagates."""
    refusal: DomainError | None = None
    try:
        with session.begin_nested():
            try:
                op()
            except DomainError as exc:
                if not exc.keeps_writes:
                    raise
                refusal = exc  # leave the savepoint normally: what the attempt wrote stands
    except DomainError as exc:
        return exc
    return refusal
