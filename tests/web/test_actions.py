"""``web.actions.run_action``: the one rule for a page action's writes and refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from yiyang.core.errors import Conflict, DomainError
from yiyang.web.actions import run_action

pytestmark = pytest.mark.unit


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    what: Mapped[str] = mapped_column(String(20))


class _Kept(DomainError):
    keeps_writes = True


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(_Row(what="before"))
        s.flush()
        yield s


def _rows(session: Session) -> list[str]:
    return list(session.scalars(select(_Row.what).order_by(_Row.id)))


def test_a_done_action_keeps_its_writes(session: Session) -> None:
    assert run_action(session, lambda: session.add(_Row(what="done"))) is None
    assert _rows(session) == ["before", "done"]


def test_a_refused_action_is_undone_and_its_refusal_returned(session: Session) -> None:
    def op() -> None:
        session.add(_Row(what="half"))
        session.flush()
        raise Conflict("someone else has it")

    refused = run_action(session, op)
    assert isinstance(refused, Conflict) and refused.message == "someone else has it"
    assert _rows(session) == ["before"]


def test_a_refusal_that_keeps_writes_leaves_them(session: Session) -> None:
    def op() -> None:
        session.add(_Row(what="attempt"))
        session.flush()
        raise _Kept("wrong code")

    refused = run_action(session, op)
    assert isinstance(refused, _Kept)
    assert _rows(session) == ["before", "attempt"]


def test_any_other_error_propagates(session: Session) -> None:
    def op() -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        run_action(session, op)
