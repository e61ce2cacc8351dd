"""Convert the MIT PlaceLab / House_n homes of Munguia Tapia (subjects 1 and 2) to the replay CSV
of issue #16.

Source: tcsvn/pyadlml@a2a400b0e2b39f16c5b8575259e0cda796bba94e (the files were removed from that
repository's later commits; fetch keeps the history), ``datasets/mitlab/subject{1,2}/``
``activities_data.csv`` + ``sensors.csv``: a copy of ``thesis_data_txt.zip`` from
courses.media.mit.edu/2004fall/mas622j/04.projects/home/. Citation requested by its readme:
E. Munguia Tapia, S. Intille, K. Larson, "Activity Recognition in the Home Using Simple and
Ubiquitous Sensors", Pervasive 2004; E. Munguia Tapia, S.M. thesis, MIT, 2003. Two single-person
apartments, two weeks each (subject 1: 16 days, 77 sensors; subject 2: 17 days, 84 sensors).

File format: ``activities_data.csv`` is a run of five-line blocks, one per labelled activity::

    Toileting,4/1/2003,17:30:36,17:46:41      label, m/d/yyyy, start, end (unpadded h:m:s)
    100,68                                    sensor ids
    Toilet Flush,Sink faucet - hot            sensor objects
    17:39:37,17:39:46                         activation times
    18:10:57,17:39:52                         deactivation times

``sensors.csv``: ``id,room,object``. Times have no date: a time more than two hours before the
activity's start is taken as the next day; a deactivation before its activation likewise. The
release holds an impossible 4/31/2003 (subject 2), read as 5/1/2003 as the agnesvanbelle/TL
re-release did. A sensor listed under two overlapping activities is written once.

Caveat: the release only holds sensor firings listed under a labelled activity (the labels were
the subject's own, refined with the researchers); firings outside any label are absent, so
silences are longer than the home's real ones. Only reed switches: no PIR, no bed mat.

Sensor mapping (every sensor is a reed switch fired as an interval):

==============================================  =======  ===========================
dataset sensor                                   kind     rows
==============================================  =======  ===========================
the front door (subject 1: 140 "Foyer,Door";     door     1 at activation, 0 at
subject 2: 85 "Hallway,Door", see below)                  deactivation
Toilet Flush                                     contact  1 at activation
light switches, lamps, TV, stereo, telephone     contact  1 at activation
cabinets, drawers, fridge, freezer, microwave,   contact  1 at activation
toaster, burners, faucets, washing machine,
inner doors (bathroom, kitchen, den, office)
==============================================  =======  ===========================

Neither apartment's front door is named as such. 140 fires in 16 of 16 "Going out ..." labels of
subject 1; 85 in 3 of 4 of subject 2's: those are taken as the front doors (``--front-door`` to
override).

Absences: the "Going out to work / for shopping / for entertainment / to exercise / to school"
labels last minutes (the leaving itself), not the absence. The away interval is taken from the
label's start to the first sensor activation after the label's end (the return).

    python bench/replay/convert_placelab.py --dir mitlab/subject1 --home placelab_s1 \
        --out /work/data/replay
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
from pathlib import Path

from replay_csv import Row, interval_rows, summary, write_home

FRONT_DOORS = {"subject1": "140", "subject2": "85"}
_SLACK = dt.timedelta(hours=2)


def _date(text: str) -> dt.date:
    month, day, year = (int(x) for x in text.strip().split("/"))
    return dt.date(year, month, 1) + dt.timedelta(days=day - 1)  # 4/31 → 5/1


def _time(day: dt.date, text: str) -> dt.datetime:
    h, m, s = (int(x) for x in text.strip().split(":"))
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h, minutes=m, seconds=s)


def _after(t: dt.datetime, ref: dt.datetime) -> dt.datetime:
    """``t`` (same date as ``ref``) moved to the next day if it lies well before ``ref``."""
    return t + dt.timedelta(days=1) if t < ref - _SLACK else t


def sensor_names(path: Path) -> dict[str, str]:
    names = {}
    with path.open(newline="", encoding="latin-1") as f:
        for rec in csv.reader(f):
            if len(rec) >= 3 and rec[0].strip().isdigit():
                names[rec[0].strip()] = f"{rec[1].strip()},{rec[2].strip()}"
    return names


def kind_of(sensor: str, front_door: str | None) -> str:
    return "door" if sensor == front_door else "contact"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def load(
    activities: Path, names: dict[str, str], front_door: str | None
) -> tuple[list[Row], list[tuple[dt.datetime, dt.datetime]]]:
    with activities.open(newline="", encoding="latin-1") as f:
        lines = [rec for rec in csv.reader(f) if any(x.strip() for x in rec)]
    seen: set[tuple[str, dt.datetime]] = set()
    rows: list[Row] = []
    outings: list[tuple[dt.datetime, dt.datetime]] = []
    for i in range(0, len(lines) - 4, 5):
        label, date, start_s, end_s = (x.strip() for x in lines[i][:4])
        day = _date(date)
        start = _time(day, start_s)
        end = _after(_time(day, end_s), start)
        if end < start:
            end += dt.timedelta(days=1)
        if label.lower().startswith("going out"):
            outings.append((start, end))
        ids = [x.strip() for x in lines[i + 1]]
        on = [x.strip() for x in lines[i + 3]]
        off = [x.strip() for x in lines[i + 4]]
        for ident, a, b in zip(ids, on, off, strict=False):
            if not ident or not a:
                continue
            t_on = _after(_time(day, a), start)
            t_off = _time(t_on.date(), b) if b else None
            if t_off is not None and t_off < t_on:
                t_off += dt.timedelta(days=1)
            if (ident, t_on) in seen:
                continue
            seen.add((ident, t_on))
            name = _slug(names.get(ident, f"sensor {ident}")) + f"_{ident}"
            rows.extend(interval_rows(t_on, t_off, name, kind_of(ident, front_door)))
    activations = sorted(r.ts for r in rows if r.value == 1)
    away = []
    for start, end in outings:
        back = next((t for t in activations if t > end), None)
        if back is not None:
            away.append((start, back))
    return rows, away


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, required=True, help="…/mitlab/subject1 or subject2")
    p.add_argument("--front-door", help="sensor id of the front door (default: see docstring)")
    p.add_argument("--home", required=True, help="output name, e.g. placelab_s1")
    p.add_argument("--out", type=Path, default=Path("/work/data/replay"))
    a = p.parse_args(argv)
    front = a.front_door or FRONT_DOORS.get(a.dir.name)
    names = sensor_names(a.dir / "sensors.csv")
    events, _ = write_home(a.out, a.home, *load(a.dir / "activities_data.csv", names, front))
    print(summary(events))


if __name__ == "__main__":
    main()
