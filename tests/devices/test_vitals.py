"""Vital signs with their names and units, from one table (devices.vitals): the console card
and the alert explanations show "72 bpm", never "heart_rate 72"."""

from __future__ import annotations

import pytest

from yiyang.alarms.describe import explain
from yiyang.devices.vitals import VITALS, vital_label, vital_unit, vital_value
from yiyang.web.templating import env

pytestmark = pytest.mark.unit


def test_each_metric_has_a_name_and_a_unit() -> None:
    assert vital_label("heart_rate") == "Heart rate" and vital_unit("heart_rate") == "bpm"
    assert vital_value("heart_rate", 72.0) == "72 bpm"
    assert vital_value("spo2", 93) == "93%"
    assert vital_value("glucose", 6.44) == "6.4 mmol/L"
    assert vital_value("bp", [150, 95]) == "150/95 mmHg"
    assert vital_value("heart_rate", None) == "—"
    assert vital_label("unknown_key") == "unknown_key" and vital_unit("unknown_key") == ""
    for key in ("heart_rate", "spo2", "breathing_rate", "bp", "glucose"):  # alarms' metrics
        assert key in VITALS


def test_the_vitals_alert_says_its_unit() -> None:
    text = explain("vitals", {"metric": "heart_rate", "values": [130, 135, 138], "readings": 3})
    assert text == "heart rate 130, 135, 138 bpm for 3 readings in a row"
    bp = explain("vitals", {"metric": "bp", "values": [[165, 100], [170, 102]], "readings": 2})
    assert "165/100, 170/102 mmHg" in bp


def test_the_console_card_helpers_are_template_globals() -> None:
    import yiyang.console.pages  # noqa: F401  (registers them)

    out = env.from_string("{{ vital_label(m) }}: {{ vital_value(m, 72.0) }}").render(m="heart_rate")
    assert out == "Heart rate: 72 bpm"
