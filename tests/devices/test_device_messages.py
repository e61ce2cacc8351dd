"""The device message format: validation reasons, and fuzzing — nothing crashes, every
rejection is explained, and a good message is never lost next to bad ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiyang.devices import messages

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
GOOD = {
    "v": 1,
    "id": "m1",
    "device": "SOS00000001",
    "type": "sos_button",
    "event": "sos",
    "ts": "2026-11-23T16:00:00+08:00",
}


def check(obj: object) -> messages.Reading | messages.Rejection:
    return messages.validate(obj, now=NOW)


def test_a_good_message_becomes_a_reading_in_utc() -> None:
    r = check(GOOD)
    assert isinstance(r, messages.Reading) and r.at == NOW and r.event == "sos"


def test_rejections_say_what_is_wrong() -> None:
    cases = {
        "schema": ({**GOOD, "v": 2}, "v:"),
        "wrong_event": ({**GOOD, "event": "smoke"}, "does not send 'smoke'"),
        "clock_skew": ({**GOOD, "ts": "2026-11-23T20:00:00+08:00"}, "ahead"),
    }
    for code, (obj, words) in cases.items():
        r = check(obj)
        assert isinstance(r, messages.Rejection) and r.code == code and words in r.reason, (code, r)
    out = check({**GOOD, "type": "smart_watch", "event": "vitals", "data": {"heart_rate": 400}})
    assert (
        isinstance(out, messages.Rejection)
        and "data.heart_rate" in out.reason
        and "250" in out.reason
    )
    naive = check({**GOOD, "ts": "2026-11-23T08:00:00"})
    assert isinstance(naive, messages.Rejection) and naive.code == "schema"
    bp = check(
        {**GOOD, "type": "bp_monitor", "event": "bp", "data": {"systolic": 80, "diastolic": 90}}
    )
    assert isinstance(bp, messages.Rejection) and "diastolic must be lower" in bp.reason
    assert messages.decode(b"x" * (messages.MAX_PAYLOAD_BYTES + 1)).code == "too_large"  # type: ignore[union-attr]
    deep = {**GOOD, "data": {"a": [[[[[[[[[1]]]]]]]]]}}
    assert check(deep).code == "too_deep"  # type: ignore[union-attr]


def test_published_schema_matches_the_models_and_examples_validate() -> None:
    root = Path(__file__).resolve().parents[2] / "docs"
    published = json.loads((root / "schema" / "device-message-v1.json").read_text())
    assert published == json.loads(json.dumps(messages.schema_document()))
    examples = json.loads((root / "schema" / "examples-v1.json").read_text())
    for ex in examples:
        ex = {**ex, "ts": NOW.isoformat()}
        assert isinstance(check(ex), messages.Reading), ex


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(raw: bytes) -> None:
    out = messages.decode(raw)
    if isinstance(out, messages.Rejection):
        assert out.code and out.reason
        return
    for obj in out:
        r = check(obj)
        assert isinstance(r, messages.Reading | messages.Rejection)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "id", "device", "type", "event", "ts", "data", "battery", "x"]),
        json_values,
        max_size=9,
    ),
    st.integers(0, 5),
)
def test_wrong_types_are_explained_and_good_neighbours_survive(obj: dict, position: int) -> None:  # type: ignore[type-arg]
    batch = [obj] * position + [GOOD] + [obj]
    raw = json.dumps(batch).encode()
    decoded = messages.decode(raw)
    assert isinstance(decoded, list)
    results = [check(o) for o in decoded]
    assert isinstance(results[position], messages.Reading)  # the good one is never lost
    for r in results:
        if isinstance(r, messages.Rejection):
            assert (
                r.code in {"schema", "wrong_event", "clock_skew", "too_deep", "not_object"}
                and r.reason
            )
