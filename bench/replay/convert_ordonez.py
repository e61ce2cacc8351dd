"""Convert the UCI "Activities of Daily Living (ADLs) Recognition Using Binary Sensors" homes
(Ordóñez, users A and B) to the replay CSV of issue #16.

Source: Anjin-Liu/ConceptDriftDatasets@32048078fcdce2f639c882b4d92c2c1d1f019d77,
``RealWorld/Drift Detection/activities_of_daily_living/Ordonez{A,B}_{Sensors,ADLs}.txt`` (a copy
of the UCI release). Licence as stated in its README.txt: use in publications must cite
F.J. Ordóñez, P. de Toledo, A. Sanchis, "Activity Recognition Using Hybrid
Generative/Discriminative Models on Home Environments Using Binary Sensors", Sensors 2013, 13,
5460-5477; distributed AS-IS; **commercial use prohibited**. One user per home ("performed by
two users ... in their own homes"): A 14 days, B 21 days.

File format (tab-separated, runs of tabs; two header lines)::

    Start time          \tEnd time            \tLocation\tType\t\tPlace
    2011-11-28 02:27:59\t\t2011-11-28 10:18:11\t\tBed\t\t\tPressure\tBedroom

ADLs the same with one ``Activity`` column. Every sensor fired as an interval.

Sensor mapping (Type, Location):

=========================================  =======  ==================================
dataset sensor                              kind     rows
=========================================  =======  ==================================
Magnetic Maindoor (Entrance)                door     1 at start, 0 at end
Pressure Bed (Bedroom)                      bed      1 at start, 0 at end
PIR (Shower, Basin, Cooktop; B: the PIRs    motion   1 at start
  over the kitchen/bathroom/bedroom doors
  and the living room, named "Door")
Flush Toilet                                contact  1 at start
Magnetic Fridge, Cabinet, Cupboard          contact  1 at start
Electric Microwave, Toaster                 contact  1 at start
Pressure Seat (living room)                 contact  1 at start (a seat used)
=========================================  =======  ==================================

Absences: ADL label ``Leaving`` → ``<home>.away.csv``. Sensor names are
``<place>_<location>_<type>`` lowercased (``entrance_maindoor_magnetic``).

    python bench/replay/convert_ordonez.py --sensors OrdonezA_Sensors.txt \
        --adls OrdonezA_ADLs.txt --home ordonez_a --out /work/data/replay
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

from replay_csv import Row, interval_rows, summary, write_home

_TS = "%Y-%m-%d %H:%M:%S"
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def kind_of(location: str, sensor_type: str) -> str:
    loc, typ = location.strip().lower(), sensor_type.strip().lower()
    if typ == "magnetic" and loc == "maindoor":
        return "door"
    if typ == "pressure" and loc == "bed":
        return "bed"
    if typ == "pir":
        return "motion"
    return "contact"


def _rows(path: Path) -> list[list[str]]:
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        parts = [p.strip() for p in re.split(r"\t+", line.strip()) if p.strip()]
        if len(parts) >= 3 and _STAMP.match(parts[0]) and _STAMP.match(parts[1]):
            out.append(parts)
    return out


def load(sensors: Path, adls: Path) -> tuple[list[Row], list[tuple[dt.datetime, dt.datetime]]]:
    rows: list[Row] = []
    for parts in _rows(sensors):
        start, end = (dt.datetime.strptime(p, _TS) for p in parts[:2])
        location, sensor_type = parts[2], parts[3]
        place = parts[4] if len(parts) > 4 else ""
        name = "_".join(p.lower() for p in (place, location, sensor_type) if p)
        name = re.sub(r"[^a-z0-9]+", "_", name)
        rows.extend(interval_rows(start, end, name, kind_of(location, sensor_type)))
    away = []
    for parts in _rows(adls):
        if parts[2].lower() == "leaving":
            start, end = (dt.datetime.strptime(p, _TS) for p in parts[:2])
            if end > start:
                away.append((start, end))
            else:
                print(f"skipped a Leaving label ending before it starts: {parts}", file=sys.stderr)
    return rows, away


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sensors", type=Path, required=True)
    p.add_argument("--adls", type=Path, required=True)
    p.add_argument("--home", required=True, help="output name, e.g. ordonez_a")
    p.add_argument("--out", type=Path, default=Path("/work/data/replay"))
    a = p.parse_args(argv)
    events, _ = write_home(a.out, a.home, *load(a.sensors, a.adls))
    print(summary(events))


if __name__ == "__main__":
    main()
