"""``yiyang replay`` (issue #16): the bundled synthetic home replayed end to end through the CLI,
simulated time beyond the last event, DST, bad rows, and the proof that the rule worker and the
replay run the same engine functions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from yiyang.alarms import engine, replay, rules
from yiyang.alarms.enums import Severity
from yiyang.cli import app
from yiyang.pipeline.messages import Baseline, DeviceEvent, Tick
from yiyang.pipeline.worker import RuleWorker, _Batch

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replay"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
FIELDS = {"at", "rule", "severity", "response", "reason"}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["replay", *args])
    return result.exit_code, result.stdout, result.stderr


def json_lines(stdout: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        assert set(line) == FIELDS, line
        assert line["response"] in ("alarm", "check_in"), line
        assert line["severity"] in set(Severity), line
        assert isinstance(line["rule"], str) and line["rule"], line
        assert isinstance(line["reason"], str) and line["reason"], line
        assert dt.datetime.fromisoformat(line["at"]).utcoffset() is not None, line
    return lines


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("ts,sensor,kind,value\n" + text, encoding="utf-8")
    return path


def test_the_synthetic_month_replays_through_the_cli_as_json_lines() -> None:
    code, out, err = run(str(FIXTURES / "synth_home.csv"), "--json")
    assert code == 0, err
    lines = json_lines(out)
    times = [dt.datetime.fromisoformat(line["at"]) for line in lines]
    assert times == sorted(times)
    first = dt.datetime(2026, 3, 2, tzinfo=SHANGHAI)
    assert all(first <= t <= dt.datetime(2026, 4, 6, tzinfo=SHANGHAI) for t in times)
    assert all(t.utcoffset() == dt.timedelta(hours=8) for t in times)  # in --timezone


def test_a_collapse_raises_an_alarm_or_check_in_within_a_day() -> None:
    cut = dt.datetime(2026, 3, 31, 15, 0, tzinfo=SHANGHAI)
    until = (cut + dt.timedelta(hours=24)).replace(tzinfo=None).isoformat()
    code, out, err = run(str(FIXTURES / "synth_home_collapse.csv"), "--until", until, "--json")
    assert code == 0, err
    after = [
        line
        for line in json_lines(out)
        if cut < dt.datetime.fromisoformat(line["at"]) <= cut + dt.timedelta(hours=24)
    ]
    assert after, out


def test_time_runs_to_until_without_events(tmp_path: Path) -> None:
    csv = write(
        tmp_path, "2026-03-02T07:30:00,hall_pir,motion,2\n2026-03-02T08:00:00,hall_pir,motion,1\n"
    )
    code, out, err = run(str(csv), "--json")
    assert code == 0, err
    assert out == ""  # nothing happens by the last event
    code, out, err = run(str(csv), "--until", "2026-03-04T12:00:00", "--json")
    assert code == 0, err
    lines = json_lines(out)
    last_event = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)
    assert any(dt.datetime.fromisoformat(line["at"]) > last_event for line in lines), out


def test_local_times_in_a_dst_gap_or_fold_are_read_as_zoneinfo_does(tmp_path: Path) -> None:
    # 2026-03-08 02:30 does not exist in New York, 2026-11-01 01:30 happens twice: the offset
    # before the change (fold=0) is used, so the gap reads as 07:30 UTC, the fold as 05:30 UTC
    assert replay.parse_time("2026-03-08T02:30:00", NEW_YORK) == dt.datetime(
        2026, 3, 8, 7, 30, tzinfo=dt.UTC
    )
    assert replay.parse_time("2026-11-01T01:30:00", NEW_YORK) == dt.datetime(
        2026, 11, 1, 5, 30, tzinfo=dt.UTC
    )
    assert replay.parse_time("2026-03-08T02:30:00+08:00", NEW_YORK) == dt.datetime(
        2026, 3, 7, 18, 30, tzinfo=dt.UTC
    )
    rows = replay.read_events(
        [
            "ts,sensor,kind,value",
            "2026-03-08T01:59:00,pir,motion,1",
            "2026-03-08T02:30:00,pir,motion,1",
            "2026-03-08T03:01:00,pir,motion,1",
        ],
        NEW_YORK,
    )
    assert [r.at.strftime("%H:%M") for r in rows] == ["06:59", "07:01", "07:30"]  # UTC, sorted
    csv = write(
        tmp_path,
        "2026-03-07T20:00:00,pir,motion,1\n2026-03-08T02:30:00,pir,motion,1\n"
        "2026-10-31T20:00:00,pir,motion,1\n2026-11-01T01:30:00,pir,motion,1\n",
    )
    code, out, err = run(str(csv), "--timezone", "America/New_York", "--json")
    assert code == 0, err
    for line in json_lines(out):  # every time shown with New York's offset at that instant
        at = dt.datetime.fromisoformat(line["at"])
        assert at.utcoffset() == at.astimezone(NEW_YORK).utcoffset(), line


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("2026-03-02T08:00:00,hall,teleport,1", "unknown kind 'teleport'"),
        ("2026-03-02T25:00:00,hall,motion,1", "ts '2026-03-02T25:00:00'"),
        ("yesterday,hall,motion,1", "ts 'yesterday'"),
        ("2026-03-02T08:00:00,hall,motion", "expected 4 fields"),
        ("2026-03-02T08:00:00,hall,motion,lots", "value 'lots'"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_printed(tmp_path: Path, row: str, words: str) -> None:
    good = "".join(f"2026-03-0{d}T08:00:00,hall,motion,1\n" for d in range(2, 6))
    csv = write(tmp_path, good + row + "\n")
    for args in ([str(csv), "--json"], [str(csv)]):
        code, out, err = run(*args)
        assert code != 0
        assert out == ""
        assert "line 6" in err and words in err, err


def test_a_wrong_header_and_unknown_facts_are_refused(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("time,sensor,kind,value\n", encoding="utf-8")
    code, out, err = run(str(csv), "--json")
    assert code != 0 and out == "" and "line 1" in err
    code, out, err = run(str(FIXTURES / "synth_home.csv"), "--facts", "living_alone,rich")
    assert code != 0 and out == "" and "unknown fact 'rich'" in err
    code, out, err = run(str(FIXTURES / "synth_home.csv"), "--facts", "living_alone,dementia")
    assert code == 0, err


def test_the_worker_and_the_replay_run_the_same_engine_functions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first week of the synthetic home through the replay, every engine call recorded;
    then the same messages through the rule worker's ``_apply``: the same findings, in turn."""
    calls: list[tuple[str, object, object, list[rules.Finding] | None]] = []
    handle_event, handle_tick = engine.handle_event, engine.handle_tick
    handle_baseline = engine.handle_baseline

    def on_event(state, ev, p, facts, tz):  # type: ignore[no-untyped-def]
        found = handle_event(state, ev, p, facts, tz)
        calls.append(("event", ev, None, list(found)))
        return found

    def on_tick(state, now, p, facts, tz, *, motion_today=None):  # type: ignore[no-untyped-def]
        found = handle_tick(state, now, p, facts, tz, motion_today=motion_today)
        calls.append(("tick", now, motion_today, list(found)))
        return found

    def on_baseline(state, base, days, facts=None):  # type: ignore[no-untyped-def]
        calls.append(("baseline", list(base), days, None))
        handle_baseline(state, base, days, facts)

    monkeypatch.setattr(engine, "handle_event", on_event)
    monkeypatch.setattr(engine, "handle_tick", on_tick)
    monkeypatch.setattr(engine, "handle_baseline", on_baseline)
    rows = replay.read_file(FIXTURES / "synth_home.csv", SHANGHAI)
    week = [r for r in rows if r.at < rows[0].at + dt.timedelta(days=9)]
    replay.replay(week, tz=SHANGHAI)
    monkeypatch.undo()
    assert {c[0] for c in calls} == {"event", "tick", "baseline"}
    assert any(c[3] for c in calls)  # something was found

    worker = RuleWorker()
    worker.tz = SHANGHAI
    params, facts = rules.Params.layered_safely(), rules.Facts(replay.ELDER_ID)
    state = rules.State()
    for kind, what, extra, expected in calls:
        batch = _Batch([], {})
        if kind == "event":
            ev = what
            assert isinstance(ev, rules.Event)
            item: object = DeviceEvent(
                1,
                ev.device_id,
                ev.device_type.value,
                ev.event.value,
                "m",
                ev.at.timestamp(),
                ev.at.timestamp(),
                ev.data,
            )
        elif kind == "tick":
            assert isinstance(what, dt.datetime)
            item = Tick(1, what.timestamp(), extra is not None)
            if extra is not None:
                batch.motion_today[1] = extra  # type: ignore[assignment]
        else:
            item = Baseline(1, what, extra)  # type: ignore[arg-type]
        found = worker._apply(None, item, state, params, facts, batch)  # type: ignore[arg-type]
        if expected is not None:
            assert found == expected, (kind, what)
    worker._pool.shutdown()
