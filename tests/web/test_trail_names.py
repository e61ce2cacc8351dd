"""Trails name people, not accounts: a job by its translated name (``who``), a person by the
display name recorded with the step; a status change the system wrote says so in words."""

from __future__ import annotations

import pytest

from yiyang.core import audit
from yiyang.core.audit import AuditActor, actor_label
from yiyang.registry.enums import status_reason
from yiyang.web.templating import env

pytestmark = pytest.mark.unit


def test_jobs_are_named_people_kept() -> None:
    assert actor_label("system") == "System" and actor_label(None) == "System"
    assert actor_label("demo-data") == "Demo data loader"
    assert actor_label("month-end") == "Month-end job"
    assert actor_label("社区 李社工") == "社区 李社工"
    assert env.from_string("{{ who('system') }} {{ who(n) }}").render(n="王") == "System 王"


def test_the_shown_name_is_the_display_name() -> None:
    assert AuditActor(3, "operator", display_name="接警员 小周").shown_name == "接警员 小周"
    assert AuditActor(None, "month-end").shown_name == "month-end"
    assert audit.SYSTEM.shown_name == "system"


def test_status_reasons_the_system_writes_are_words() -> None:
    assert status_reason("imported") == "Registered by a roll import"
    assert status_reason("registered") == "Registered on the elder form"
    assert status_reason("搬去女儿家") == "搬去女儿家" and status_reason(None) == ""
