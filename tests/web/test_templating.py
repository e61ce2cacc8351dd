"""The template environment is a mechanism: domains register their globals and filters, and a
name registered twice with a different value is refused."""

from __future__ import annotations

import pytest

from yiyang.web import templating

pytestmark = pytest.mark.unit


def test_registering_the_same_value_again_is_harmless() -> None:
    value = object()
    templating.register_globals(_test_same=value)
    templating.register_globals(_test_same=value)
    assert templating.env.globals["_test_same"] is value


def test_a_global_name_taken_by_another_value_is_refused() -> None:
    templating.register_globals(_test_taken=1.5)
    with pytest.raises(templating.TemplateNameClash, match="_test_taken"):
        templating.register_globals(_test_taken=2.5)
    assert templating.env.globals["_test_taken"] == 1.5


def test_a_filter_name_taken_by_another_function_is_refused() -> None:
    with pytest.raises(templating.TemplateNameClash, match="localtime"):
        templating.register_filters(localtime=lambda v: v)


def test_every_page_module_registers_what_the_templates_use() -> None:
    from yiyang.app import create_app

    create_app()
    for name in ("label", "action_label", "explain", "device_label", "event_label", "Perm"):
        assert name in templating.env.globals
    for name in ("place", "trackpoint", "localtime", "pct"):
        assert name in templating.env.filters
