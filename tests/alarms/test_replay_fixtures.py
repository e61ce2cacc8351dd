"""The replay data groundwork of issue #16: the bundled synthetic home and the dataset converters.

Converters are tested on a few lines typed in each dataset's own file format (no fetched data).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import itertools
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "replay"
sys.path.insert(0, str(ROOT / "bench" / "replay"))
replay_csv = importlib.import_module("replay_csv")
synth = importlib.import_module("synth")
kasteren = importlib.import_module("convert_kasteren")
ordonez = importlib.import_module("convert_ordonez")
placelab = importlib.import_module("convert_placelab")

KINDS = {"motion", "contact", "door", "bed", "water", "steps", "away", "home", "sos", "fall"}


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _table(rows) -> list[tuple[str, str, str, str]]:
    text = replay_csv.render(replay_csv.sort_rows(rows))
    return [tuple(r) for r in csv.reader(text.splitlines()[1:])]


# --- the synthetic home -------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    synth.write(a)
    synth.write(b)
    for name in ("synth_home.csv", "synth_home.away.csv", "synth_home_collapse.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
        # the committed fixture is what the generator writes
        assert (a / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_another_seed_another_home(tmp_path: Path) -> None:
    synth.write(tmp_path, seed=synth.SEED + 1)
    assert (tmp_path / "synth_home.csv").read_bytes() != (FIXTURES / "synth_home.csv").read_bytes()


def test_fixture_is_a_valid_replay_csv() -> None:
    path = FIXTURES / "synth_home.csv"
    assert path.stat().st_size <= 300_000
    rows = _read(path)
    assert rows[0] == ["ts", "sensor", "kind", "value"]
    stamps = []
    for ts, sensor, kind, value in rows[1:]:
        t = dt.datetime.fromisoformat(ts)
        assert t.tzinfo is None and ts == t.isoformat(timespec="seconds")
        assert sensor and kind in KINDS
        assert float(value) >= 0
        stamps.append(t)
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert stamps[0].date() == synth.START
    # 35 days from the first morning; the last night may end after midnight
    assert (stamps[-1].date() - synth.START).days in (synth.DAYS - 1, synth.DAYS)


def test_fixture_home_behaves_like_one_resident() -> None:
    rows = _read(FIXTURES / "synth_home.csv")[1:]
    bed = [v for _, s, k, v in rows if k == "bed"]
    assert all(a != b for a, b in itertools.pairwise(bed))  # in/out alternate
    door = [v for _, s, k, v in rows if k == "door"]
    assert door == ["1", "0"] * (len(door) // 2)
    away = [
        (dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e))
        for s, e in _read(FIXTURES / "synth_home.away.csv")[1:]
    ]
    assert len(away) >= synth.DAYS // 2  # out most mornings
    for start, end in away:
        assert dt.timedelta(hours=1) <= end - start <= dt.timedelta(hours=3, seconds=1)
        inside = [
            r for r in rows if start < dt.datetime.fromisoformat(r[0]) < end and r[2] != "door"
        ]
        assert inside == []  # nobody home while out
    wakes = {}
    for ts, _, kind, value in rows:
        t = dt.datetime.fromisoformat(ts)
        if kind == "bed" and value == "0" and 5 <= t.hour < 10:
            wakes.setdefault(t.date(), t)
    assert len(wakes) == synth.DAYS
    minutes = sorted(t.hour * 60 + t.minute for t in wakes.values())
    assert 7 * 60 <= minutes[len(minutes) // 2] <= 8 * 60


def test_collapse_cuts_every_event_from_the_given_time() -> None:
    full = (FIXTURES / "synth_home.csv").read_text(encoding="utf-8").splitlines()
    cut = (FIXTURES / "synth_home_collapse.csv").read_text(encoding="utf-8").splitlines()
    at = synth.collapse_time()
    assert at.date() == synth.START + dt.timedelta(days=29)
    assert full[: len(cut)] == cut
    assert dt.datetime.fromisoformat(cut[-1].split(",")[0]) < at
    assert dt.datetime.fromisoformat(full[len(cut)].split(",")[0]) >= at
    assert dt.datetime.fromisoformat(cut[-1].split(",")[0]) > at - dt.timedelta(hours=2)


# --- van Kasteren ------------------------------------------------------------------------

KASTEREN_SENSE = (
    "Start time: Time sensor started firing\r\n"
    "ID: sensor id (see list below)\r\n"
    "\r\n"
    "Sensor IDs are: \r\n"
    "    [ 1]    'Microwave'         \r\n"
    "    [ 5]    'Hall-Toilet door'  \r\n"
    "    [12]    'Frontdoor'         \r\n"
    "    [14]    'ToiletFlush'       \r\n"
    "\r\n"
    "Start time          \tEnd time            \tID\tVal\r\n"
    "--------------------\t--------------------\t--\t---\r\n"
    "25-Feb-2008 09:37:51\t25-Feb-2008 09:37:52\t14\t1\r\n"
    "25-Feb-2008 09:36:43\t25-Feb-2008 09:37:04\t5\t1\r\n"
    "25-Feb-2008 10:19:28\t25-Feb-2008 10:19:32\t12\t1\r\n"
    "25-Feb-2008 17:55:08\t25-Feb-2008 17:55:12\t1\t1\r\n"
)
KASTEREN_ACT = (
    "activity id list:\n"
    "1: 'leave house'\n"
    "10:'go to bed'\n"
    "\n"
    "Start time          \tEnd time            \tID\n"
    "--------------------\t--------------------\t--\n"
    "25-Feb-2008 00:22:46\t25-Feb-2008 09:34:12\t10\n"
    "25-Feb-2008 10:19:06\t25-Feb-2008 16:55:38\t1\n"
)


def test_kasteren_original_format(tmp_path: Path) -> None:
    sense, act = tmp_path / "kasterenSenseData.txt", tmp_path / "kasterenActData.txt"
    sense.write_bytes(KASTEREN_SENSE.encode("latin-1"))
    act.write_text(KASTEREN_ACT)
    rows, away = kasteren.load_original(sense, act)
    assert _table(rows) == [
        ("2008-02-25T09:36:43", "hall_toilet_door", "contact", "1"),
        ("2008-02-25T09:37:51", "toiletflush", "contact", "1"),
        ("2008-02-25T10:19:28", "frontdoor", "door", "1"),
        ("2008-02-25T10:19:32", "frontdoor", "door", "0"),
        ("2008-02-25T17:55:08", "microwave", "contact", "1"),
    ]
    assert away == [(dt.datetime(2008, 2, 25, 10, 19, 6), dt.datetime(2008, 2, 25, 16, 55, 38))]


def test_kasteren_tl_format(tmp_path: Path) -> None:
    prefix = tmp_path / "houseB"
    (tmp_path / "houseB.sensor_names").write_text(
        "1\ttoilet door\n7\tfrontdoor\n12\tpress bed rechts\n28\tPIR keuken\n"
    )
    # epoch seconds are the local wall clock read as UTC; id 7 appears as 4 in the data
    (tmp_path / "houseB.sensors").write_text(
        "1248183012\t1\t1\n1248183018\t1436\t12\n1248183474\t4\t28\n1248190000\t6\t4\n"
        "1248200000\t2\t20\n"
    )
    (tmp_path / "houseB.activity_names").write_text("1\tleave-house\n4\tuse-toilet\n")
    (tmp_path / "houseB.activities").write_text("1248190001\t3600\t1\n1248183012\t30\t4\n")
    rows, away = kasteren.load_tl(prefix)
    assert _table(rows) == [
        ("2009-07-21T13:30:12", "toilet_door", "contact", "1"),
        ("2009-07-21T13:30:18", "press_bed_rechts", "bed", "1"),
        ("2009-07-21T13:37:54", "pir_keuken", "motion", "1"),
        ("2009-07-21T13:54:14", "press_bed_rechts", "bed", "0"),
        ("2009-07-21T15:26:40", "frontdoor", "door", "1"),
        ("2009-07-21T15:26:46", "frontdoor", "door", "0"),
        ("2009-07-21T18:13:20", "unnamed_20", "contact", "1"),
    ]
    assert away == [(dt.datetime(2009, 7, 21, 15, 26, 41), dt.datetime(2009, 7, 21, 16, 26, 41))]
    clipped, _ = kasteren.load_tl(prefix, clip=True)  # labels end 16:26:41
    assert _table(clipped) == _table(rows)[:-1]


def test_kasteren_sensor_kinds() -> None:
    assert kasteren.kind_of("front door reed") == "door"
    assert kasteren.kind_of("mat bed right pressure mat") == "bed"
    assert kasteren.kind_of("bathtub pir") == "motion"
    assert kasteren.kind_of("matt couch living room") == "contact"
    assert kasteren.kind_of("Hall-Bedroom door") == "contact"
    assert kasteren.kind_of("kwik stove lid") == "contact"


# --- UCI ADL (Ordóñez) -------------------------------------------------------------------

ORDONEZ_SENSORS = (
    "Start time          \tEnd time            \tLocation\tType\t\tPlace\n"
    "--------------------\t--------------------\t--------\t--------\t-----\n"
    "2011-11-28 02:27:59\t\t2011-11-28 10:18:11\t\tBed\t\t\tPressure\tBedroom\n"
    "2011-11-28 10:21:24\t\t2011-11-28 10:21:31\t\tCabinet\t\tMagnetic\tBathroom\n"
    "2011-11-28 10:21:44\t\t2011-11-28 10:23:31\t\tBasin\t\tPIR\t\t\tBathroom\n"
    "2011-11-28 10:23:02\t\t2011-11-28 10:23:36\t\tToilet\t\tFlush\t\tBathroom\n"
    "2011-11-28 10:49:47\t\t2011-11-28 10:49:53\t\tMaindoor\tMagnetic\tEntrance\n"
    "2011-11-28 13:02:10\t\t2011-11-28 13:45:02\t\tSeat\t\tPressure\tLiving\n"
    "2011-11-28 13:10:30\t\t2011-11-28 13:11:30\t\tMicrowave\tElectric\tKitchen\n"
)
ORDONEZ_ADLS = (
    "Start time          \tEnd time            \tActivity\t\n"
    "--------------------\t--------------------\t--------\n"
    "2011-11-28 02:27:59\t\t2011-11-28 10:18:11\t\tSleeping\t\t\n"
    "2011-11-28 10:49:00\t\t2011-11-28 12:59:59\t\tLeaving\t\t\n"
    "2011-11-28 13:02:10\t\t2011-11-28 13:45:02\t\tSpare_Time/TV\t\n"
)


def test_ordonez(tmp_path: Path) -> None:
    sensors, adls = tmp_path / "OrdonezA_Sensors.txt", tmp_path / "OrdonezA_ADLs.txt"
    sensors.write_text(ORDONEZ_SENSORS)
    adls.write_text(ORDONEZ_ADLS)
    rows, away = ordonez.load(sensors, adls)
    assert _table(rows) == [
        ("2011-11-28T02:27:59", "bedroom_bed_pressure", "bed", "1"),
        ("2011-11-28T10:18:11", "bedroom_bed_pressure", "bed", "0"),
        ("2011-11-28T10:21:24", "bathroom_cabinet_magnetic", "contact", "1"),
        ("2011-11-28T10:21:44", "bathroom_basin_pir", "motion", "1"),
        ("2011-11-28T10:23:02", "bathroom_toilet_flush", "contact", "1"),
        ("2011-11-28T10:49:47", "entrance_maindoor_magnetic", "door", "1"),
        ("2011-11-28T10:49:53", "entrance_maindoor_magnetic", "door", "0"),
        ("2011-11-28T13:02:10", "living_seat_pressure", "contact", "1"),
        ("2011-11-28T13:10:30", "kitchen_microwave_electric", "contact", "1"),
    ]
    assert away == [(dt.datetime(2011, 11, 28, 10, 49), dt.datetime(2011, 11, 28, 12, 59, 59))]


# --- MIT PlaceLab (Munguia Tapia) --------------------------------------------------------

PLACELAB_SENSORS = "100,Bathroom,Toilet Flush \r\n101,Bathroom,Light switch\r\n140,Foyer,Door\r\n"
PLACELAB_ACTIVITIES = (
    "Going out to work,4/30/2003,23:50:0,23:55:10\r\n"
    "140,101\r\n"
    "Door,Light switch\r\n"
    "23:54:2,23:50:5\r\n"
    "23:54:9,23:50:7\r\n"
    "Toileting,4/31/2003,0:40:11,0:46:41\r\n"
    "101,100,140\r\n"
    "Light switch,Toilet Flush,Door\r\n"
    "0:40:30,0:45:0,0:39:50\r\n"
    "0:52:1,0:45:6,0:39:58\r\n"
    "Grooming,5/1/2003,0:44:0,0:50:0\r\n"
    "100\r\n"
    "Toilet Flush\r\n"
    "0:45:0\r\n"
    "0:45:6\r\n"
)


def test_placelab(tmp_path: Path) -> None:
    (tmp_path / "sensors.csv").write_text(PLACELAB_SENSORS)
    (tmp_path / "activities_data.csv").write_text(PLACELAB_ACTIVITIES)
    names = placelab.sensor_names(tmp_path / "sensors.csv")
    rows, away = placelab.load(tmp_path / "activities_data.csv", names, "140")
    assert _table(rows) == [
        ("2003-04-30T23:50:05", "bathroom_light_switch_101", "contact", "1"),
        ("2003-04-30T23:54:02", "foyer_door_140", "door", "1"),
        ("2003-04-30T23:54:09", "foyer_door_140", "door", "0"),
        ("2003-05-01T00:39:50", "foyer_door_140", "door", "1"),  # 4/31 read as 5/1
        ("2003-05-01T00:39:58", "foyer_door_140", "door", "0"),
        ("2003-05-01T00:40:30", "bathroom_light_switch_101", "contact", "1"),
        ("2003-05-01T00:45:00", "bathroom_toilet_flush_100", "contact", "1"),  # once
    ]
    # out from the leaving label's start to the first firing after it (the return)
    assert away == [(dt.datetime(2003, 4, 30, 23, 50), dt.datetime(2003, 5, 1, 0, 39, 50))]


def test_write_home_sorts_and_merges(tmp_path: Path) -> None:
    row = replay_csv.Row
    t = dt.datetime(2024, 1, 1, 8)
    events, sidecar = replay_csv.write_home(
        tmp_path,
        "h",
        [row(t + dt.timedelta(minutes=5), "a", "motion", 1), row(t, "d", "door", 1)],
        [(t, t + dt.timedelta(hours=1)), (t + dt.timedelta(minutes=30), t + dt.timedelta(hours=2))],
    )
    assert events.read_text().splitlines() == [
        "ts,sensor,kind,value",
        "2024-01-01T08:00:00,d,door,1",
        "2024-01-01T08:05:00,a,motion,1",
    ]
    assert sidecar.read_text().splitlines() == [
        "start,end",
        "2024-01-01T08:00:00,2024-01-01T10:00:00",
    ]
