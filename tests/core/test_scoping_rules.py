"""The scoping rule registry in core: domains register named rules; asking for a missing one
says which and how to install it; core imports no domain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, column, true

from yiyang.core import auth, scoping
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor, ScopeRuleMissing, ScopeRules

pytestmark = pytest.mark.unit

FAMILY = Actor(1, "f", "F", Role.FAMILY, 1, "/310104000000/")
CORE = Path(__file__).parents[2] / "src" / "yiyang" / "core"


def always(actor: Actor, *_columns: object) -> ColumnElement[bool]:
    return true()


def test_a_missing_rule_names_itself_and_the_install_step() -> None:
    rules = ScopeRules()
    with pytest.raises(ScopeRuleMissing, match=r"'health\.records'.*yiyang\.domains\.install\(\)"):
        rules.row_rule("health.records")
    with pytest.raises(ScopeRuleMissing, match="masking rule 'phone'"):
        rules.mask_rule("phone")


def test_registering_is_idempotent_and_refuses_a_second_rule_under_a_name() -> None:
    rules = ScopeRules()
    rules.register_row_rule("x", always)
    rules.register_row_rule("x", always)  # start-up ran twice
    assert rules.row_rule("x")(FAMILY, column("elder_id")) is not None
    with pytest.raises(ValueError, match="'x' is registered already"):
        rules.register_row_rule("x", lambda actor: true())
    rules.register_mask_rule("phone", lambda actor, value: "***")
    assert rules.mask_rule("phone")(FAMILY, "13800000000") == "***"
    assert rules.names() == {"row": ["x"], "mask": ["phone"]}


def test_the_domains_installed_what_core_asks_for() -> None:
    """tests/conftest.py runs yiyang.domains.install(), as the app and the CLI do."""
    for name in (scoping.ELDERS, scoping.ELDER_IDS, scoping.CAREGIVER_JOBS):
        assert callable(scoping.row_rule(name))
    assert callable(auth.session_store().resolve_token)
    sql = str(scoping.elder_row_scope(FAMILY, Perm.VIEW_ALERTS, column("p"), column("e")))
    assert "user_elder_link" in sql
