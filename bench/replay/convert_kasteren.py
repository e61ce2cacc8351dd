"""Convert the van Kasteren homes (UvA, houses A, B, C) to the replay CSV of issue #16.

Two input formats, both of the same recordings:

* ``--sense/--act``: the original text release of house A (``kasterenSenseData.txt``,
  ``kasterenActData.txt``; rows ``25-Feb-2008 00:20:14<TAB>25-Feb-2008 00:22:57<TAB>24<TAB>1``
  under a header naming the ids as ``[24]    'Hall-Bedroom door'``). Stored in
  tcsvn/pyadlml@a2a400b0e2b39f16c5b8575259e0cda796bba94e, ``datasets/kasteren/``.
* ``--tl PREFIX``: the tab-separated re-release of houses A, B and C in agnesvanbelle/TL@
  22d0103a65b7478ddb285d3beffe91f9eb1a5975, ``source/source-code/our_project_project/data/
  house{A,B,C}.{sensors,sensor_names,activities,activity_names}``: rows ``start length id``,
  start in epoch seconds. The epochs are the local wall-clock times read as UTC (house A's first
  row, 1203898814, is the original's ``25-Feb-2008 00:20:14``), so they are decoded as UTC and
  written without an offset. House C's two "use-toilet" labels were merged by that re-release.
  Its sensor id 7 appears in the data as 4: house A's id-4 rows are the original's id-7 rows
  ("Cups cupboard", same timestamps), and in A, B and C id 4 fires while no row has id 7, so
  id 4 takes the name listed for 7 (B: "frontdoor", C: "freezer drove"). Ids with no name
  (B: 20, 22-25) become ``contact`` sensors ``unnamed_<id>``. The re-release holds fewer events
  than the original (house A: 1,219 of 1,319), so house A is converted from the original.

Citation: T.L.M. van Kasteren, A. Noulas, G. Englebienne, B. Kröse, "Accurate activity
recognition in a home setting", UbiComp 2008 (house A); van Kasteren, Englebienne, Kröse,
"Transferring knowledge of activity recognition across sensor networks", Pervasive 2010
(houses B, C). One resident per house (A: man, 26; B: man, 28; C: man, 57).

Sensor mapping (by the sensor's name, case-insensitive; every sensor fired as an interval):

=====================================================  =======  ===========================
dataset sensor                                          kind     rows
=====================================================  =======  ===========================
front door reed ("Frontdoor", "front door reed")        door     1 at start, 0 at end
bed pressure mat ("press bed ...", "... bed ... mat")   bed      1 at start, 0 at end
PIR ("PIR keuken", "bathtub pir", "dresser pir")        motion   1 at start
toilet flush (float / reed on the flush)                contact  1 at start
inner doors (hall-toilet, bedroom, bathroom door)       contact  1 at start
cupboards, fridge, freezer, microwave, dishwasher,      contact  1 at start
washing machine, drawers, mercury switches ("kwik"),
sink float ("gootsteen float"), keys, couch mat
=====================================================  =======  ===========================

The couch pressure mat of house C and its key hook are objects used, not motion: ``contact``.
Absences: activity label "leave house" / "leave-house" → ``<home>.away.csv``. House B's labels
cover 2009-07-24 16:46 .. 2009-08-07 14:14 only, its sensor rows 2009-07-21 .. 2009-08-17 (and
almost none on 08-12 .. 08-15): convert it with ``--clip-to-labels`` so that every absence in
the replayed span is known.

    python bench/replay/convert_kasteren.py --sense kasterenSenseData.txt \
        --act kasterenActData.txt --home kasteren_a --out /work/data/replay
    python bench/replay/convert_kasteren.py --tl DATA/houseB --clip-to-labels \
        --home kasteren_b --out /work/data/replay
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from replay_csv import Row, interval_rows, summary, write_home

_TS = "%d-%b-%Y %H:%M:%S"
_SENSOR_NAME = re.compile(r"\[\s*(\d+)\]\s*'([^']*)'")
_ACT_NAME = re.compile(r"^\s*(\d+)\s*:\s*'([^']*)'")
_ROW = re.compile(
    r"^(\d{2}-\w{3}-\d{4} \d\d:\d\d:\d\d)\t+(\d{2}-\w{3}-\d{4} \d\d:\d\d:\d\d)\t+(\d+)"
)

Interval = tuple[dt.datetime, dt.datetime, str]


def kind_of(name: str) -> str:
    n = name.lower().replace("-", " ").replace("_", " ")
    if n.replace(" ", "").startswith("frontdoor"):
        return "door"
    if "bed" in n and ("press" in n or "mat" in n):
        return "bed"
    if "pir" in n.split():
        return "motion"
    return "contact"


def sensor_id(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _is_leave(label: str) -> bool:
    return "leave" in label.lower()


def _read_original(path: Path, name_re: re.Pattern[str]) -> tuple[dict[str, str], list[Interval]]:
    names: dict[str, str] = {}
    rows: list[Interval] = []
    for line in path.read_text(encoding="latin-1").splitlines():
        m = _ROW.match(line.strip("\r"))
        if m:
            start = dt.datetime.strptime(m[1], _TS)
            end = dt.datetime.strptime(m[2], _TS)
            rows.append((start, end, m[3]))
            continue
        n = name_re.search(line)
        if n:
            names[n[1]] = n[2].strip()
    return names, rows


def _read_tl(prefix: Path, what: str) -> tuple[dict[str, str], list[Interval]]:
    """``what`` is "sensor" or "activity": reads ``PREFIX.sensors`` + ``PREFIX.sensor_names`` or
    ``PREFIX.activities`` + ``PREFIX.activity_names``."""
    plural = {"sensor": "sensors", "activity": "activities"}[what]
    names: dict[str, str] = {}
    names_path = prefix.with_name(f"{prefix.name}.{what}_names")
    for line in names_path.read_text(encoding="latin-1").splitlines():
        if line.strip():
            ident, _, name = line.partition("\t")
            names[ident.strip()] = name.strip()
    rows: list[Interval] = []
    for line in prefix.with_name(f"{prefix.name}.{plural}").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            start = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(parts[0]))
            rows.append((start, start + dt.timedelta(seconds=int(parts[1])), parts[2]))
    return names, rows


def convert(
    sensor_names: dict[str, str],
    sensor_rows: list[Interval],
    activity_names: dict[str, str],
    activity_rows: list[Interval],
    clip: bool = False,
) -> tuple[list[Row], list[tuple[dt.datetime, dt.datetime]]]:
    """``clip``: keep only the sensor rows within the labelled span (first label's start to the
    last label's end), where the absences are known."""
    rows: list[Row] = []
    for start, end, ident in sensor_rows:
        name = sensor_names.get(ident, f"unnamed {ident}")
        rows.extend(interval_rows(start, end, sensor_id(name), kind_of(name)))
    away = [
        (start, end)
        for start, end, ident in activity_rows
        if _is_leave(activity_names.get(ident, ""))
    ]
    if clip and activity_rows:
        lo = min(start for start, _, _ in activity_rows)
        hi = max(end for _, end, _ in activity_rows)
        rows = [r for r in rows if lo <= r.ts <= hi]
    return rows, away


def load_original(
    sense: Path, act: Path, clip: bool = False
) -> tuple[list[Row], list[tuple[dt.datetime, dt.datetime]]]:
    sn, sr = _read_original(sense, _SENSOR_NAME)
    an, ar = _read_original(act, _ACT_NAME)
    return convert(sn, sr, an, ar, clip)


def load_tl(
    prefix: Path, clip: bool = False
) -> tuple[list[Row], list[tuple[dt.datetime, dt.datetime]]]:
    sn, sr = _read_tl(prefix, "sensor")
    used = {ident for _, _, ident in sr}
    if "4" in used and "4" not in sn and "7" in sn and "7" not in used:
        sn["4"] = sn.pop("7")  # the re-release's 7 → 4 shift, see the module docstring
    an, ar = _read_tl(prefix, "activity")
    return convert(sn, sr, an, ar, clip)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sense", type=Path, help="kasterenSenseData.txt (original format)")
    p.add_argument("--act", type=Path, help="kasterenActData.txt (original format)")
    p.add_argument("--tl", type=Path, help="path prefix of houseX.sensors etc. (TL format)")
    p.add_argument("--home", required=True, help="output name, e.g. kasteren_a")
    p.add_argument("--out", type=Path, default=Path("/work/data/replay"))
    p.add_argument(
        "--clip-to-labels",
        action="store_true",
        help="drop sensor rows outside the labelled span (house B: labels cover 14 of 28 days)",
    )
    a = p.parse_args(argv)
    if a.tl:
        rows, away = load_tl(a.tl, a.clip_to_labels)
    elif a.sense and a.act:
        rows, away = load_original(a.sense, a.act, a.clip_to_labels)
    else:
        p.error("give --tl PREFIX, or --sense and --act")
    events, _ = write_home(a.out, a.home, rows, away)
    print(summary(events))


if __name__ == "__main__":
    main()
