"""Score the silence alarms on recorded homes with ``yiyang replay`` (issue #16).

Runs ``yiyang.alarms.replay`` in-process over every home in ``--data`` (``<home>.csv`` with its
``<home>.away.csv``), the first ``--learn-days`` local days of each home as learning only, and
reports, pooled (total over total home-months after learning) and per home:

- silence-type operator alarms per home-month, by rule (silence-type: every rule that is not
  raised by a message itself — SOS, fall, smoke, gas, vitals, wandering, water running, night
  door, device health; so a new silence rule counts without a change here);
- alarms plus check-in tasks per home-month (all rules);
- the share of those that fell while the resident was out (the ``.away.csv`` intervals);
- simulated collapses: ``--cuts`` cuts (fixed ``--seed``), each on a day after learning at a
  random local time 07:00–21:00 with the resident at home, every event after it removed and
  simulated time run 24 h on; the time to the first alarm or check-in after the cut (median,
  p90, missed within 24 h), and for comparison a plain 12 h timer restarted by every event
  (its delay after the cut, and its own alerts per home-month: silences of 12 h or more).

Missed cuts count as "more than 24 h" in the median and p90. A home-month is 30.44 days.

    .venv/bin/python bench/replay/score.py [--data /work/data/replay] [--homes a,b] [--json]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms import replay
from yiyang.alarms.enums import AlertType

MONTH_DAYS = 365.25 / 12
WINDOW = (7, 21)  # collapse times: local hours [7, 21)
HORIZON = dt.timedelta(hours=24)
TIMER = dt.timedelta(hours=12)
# rules raised by a message itself, not by silence
EVENT_RULES = frozenset(
    {
        AlertType.SOS,
        AlertType.FALL,
        AlertType.SMOKE,
        AlertType.GAS,
        AlertType.VITALS,
        AlertType.WANDERING,
        AlertType.WATER_RUNNING,
        AlertType.NIGHT_DOOR,
        AlertType.DEVICE_OFFLINE,
        AlertType.LOW_BATTERY,
        AlertType.TAMPER,
        AlertType.NOT_WORN,
        AlertType.DEVICE_TROUBLE,
        AlertType.UNPROCESSED,
    }
)
# Where the homes were (bench/replay/README.md): the files hold local wall-clock times
ZONES = {
    "kasteren": "Europe/Amsterdam",
    "ordonez": "Europe/Madrid",
    "placelab": "America/New_York",
    "synth": "Asia/Shanghai",
}


def zone_of(home: str) -> ZoneInfo:
    return ZoneInfo(ZONES.get(home.split("_")[0], "Asia/Shanghai"))


@dataclass
class Home:
    name: str
    tz: ZoneInfo
    rows: list[replay.Row]
    away: list[tuple[dt.datetime, dt.datetime]]
    learned_at: dt.datetime  # end of learning (UTC)
    end: dt.datetime  # last event (UTC)
    raised: list[replay.Raised] = field(default_factory=list)

    @property
    def months(self) -> float:
        return max(0.0, (self.end - self.learned_at).total_seconds()) / 86400 / MONTH_DAYS

    def is_away(self, at: dt.datetime) -> bool:
        return any(start <= at < end for start, end in self.away)

    def scored(self) -> list[replay.Raised]:
        return [r for r in self.raised if r.at >= self.learned_at]


def load(data: Path, name: str, learn_days: int) -> Home:
    tz = zone_of(name)
    rows = replay.read_file(data / f"{name}.csv", tz)
    away: list[tuple[dt.datetime, dt.datetime]] = []
    sidecar = data / f"{name}.away.csv"
    if sidecar.exists():
        with sidecar.open(newline="", encoding="utf-8") as f:
            for start, end in list(csv.reader(f))[1:]:
                away.append((replay.parse_time(start, tz), replay.parse_time(end, tz)))
    first_day = rows[0].at.astimezone(tz).date()
    learned_local = dt.datetime.combine(first_day + dt.timedelta(days=learn_days), dt.time())
    learned_at = learned_local.replace(tzinfo=tz).astimezone(dt.UTC)
    return Home(name, tz, rows, away, learned_at, rows[-1].at)


def is_silence(rule: str) -> bool:
    return rule not in EVENT_RULES


@dataclass(frozen=True)
class Cut:
    home: str
    at: dt.datetime
    delay_h: float | None  # None: nothing within 24 h
    timer_h: float


def draw_cuts(homes: list[Home], n: int, seed: int) -> list[tuple[Home, dt.datetime]]:
    """``n`` cut times: a (home, day after learning) uniformly, a minute in 07:00–21:00 local,
    the resident at home and events left after the cut."""
    rnd = random.Random(seed)
    days = []
    for h in homes:
        day = h.learned_at.astimezone(h.tz).date()
        while dt.datetime.combine(day, dt.time(WINDOW[0])).replace(tzinfo=h.tz) < h.end:
            days.append((h, day))
            day += dt.timedelta(days=1)
    out: list[tuple[Home, dt.datetime]] = []
    for _ in range(n * 200):
        if len(out) == n or not days:
            break
        h, day = rnd.choice(days)
        minute = rnd.randrange(WINDOW[0] * 60, WINDOW[1] * 60)
        local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
        at = local.replace(tzinfo=h.tz).astimezone(dt.UTC)
        if at < h.end and at >= h.learned_at and not h.is_away(at):
            out.append((h, at))
    return out


def run_cut(home: Home, at: dt.datetime) -> Cut:
    kept = [r for r in home.rows if r.at < at]
    raised = replay.replay(kept, tz=home.tz, until=at + HORIZON)
    after = [r.at for r in raised if r.at >= at]
    delay = (min(after) - at).total_seconds() / 3600 if after else None
    if delay is not None and delay > HORIZON.total_seconds() / 3600:
        delay = None
    last = kept[-1].at if kept else at
    timer = max(0.0, (last + TIMER - at).total_seconds() / 3600)
    return Cut(home.name, at, delay, timer)


def timer_alerts(home: Home) -> int:
    """A plain 12 h timer restarted by every event: one alert per silence of 12 h or more that
    falls due after learning (at home or not: a timer does not know)."""
    stamps = [r.at for r in home.rows]
    return sum(
        1 for a, b in itertools.pairwise(stamps) if b - a >= TIMER and a + TIMER >= home.learned_at
    )


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (``math.inf`` for missed cuts)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def summary(cuts: list[Cut]) -> dict[str, Any]:
    engine = [c.delay_h if c.delay_h is not None else math.inf for c in cuts]
    timer = [c.timer_h for c in cuts]
    if not cuts:
        return {"cuts": 0}
    return {
        "cuts": len(cuts),
        "median_h": _finite(quantile(engine, 0.5)),
        "p90_h": _finite(quantile(engine, 0.9)),
        "missed_24h": sum(1 for c in cuts if c.delay_h is None),
        "timer_median_h": statistics.median(timer),
        "timer_p90_h": quantile(timer, 0.9),
    }


def counts(homes: list[Home]) -> dict[str, Any]:
    months = sum(h.months for h in homes)
    scored = [r for h in homes for r in h.scored()]
    by_rule = Counter(r.rule for r in scored if r.response == "alarm" and is_silence(r.rule))
    away = sum(1 for h in homes for r in h.scored() if h.is_away(r.at))
    per = (lambda n: n / months) if months else (lambda n: math.nan)
    return {
        "home_months": months,
        "timer_alerts": per(sum(timer_alerts(h) for h in homes)),
        "silence_alarms_by_rule": {k: per(v) for k, v in sorted(by_rule.items())},
        "silence_alarms": per(sum(by_rule.values())),
        "alarms_and_check_ins": per(len(scored)),
        "check_ins": per(sum(1 for r in scored if r.response == "check_in")),
        "raised": len(scored),
        "away_share": away / len(scored) if scored else 0.0,
    }


def score(data: Path, names: list[str], learn_days: int, n_cuts: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    homes = [load(data, name, learn_days) for name in names]
    timings = {}
    for h in homes:
        t = time.perf_counter()
        h.raised = replay.replay(h.rows, tz=h.tz)
        timings[h.name] = time.perf_counter() - t
    cuts = [run_cut(h, at) for h, at in draw_cuts(homes, n_cuts, seed)]
    return {
        "pooled": {**counts(homes), **summary(cuts)},
        "homes": {
            h.name: {
                "days_scored": (h.end - h.learned_at).total_seconds() / 86400,
                "replay_s": timings[h.name],
                **counts([h]),
                **summary([c for c in cuts if c.home == h.name]),
            }
            for h in homes
        },
        "cuts": [
            {"home": c.home, "at": c.at.isoformat(), "delay_h": c.delay_h, "timer_h": c.timer_h}
            for c in cuts
        ],
        "seconds": time.perf_counter() - started,
    }


def _h(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "> 24"
    return f"{value:.1f}"


def markdown(result: dict[str, Any]) -> str:
    rules = sorted({r for v in result["homes"].values() for r in v["silence_alarms_by_rule"]})
    head = ["home", "home-months", *rules, "silence alarms", "alarms + check-ins", "while away"]
    head += ["cuts", "median h", "p90 h", "missed", "12 h timer alerts / median / p90"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = [*result["homes"].items(), ("**pooled**", result["pooled"])]
    for name, v in rows:
        cells = [name, f"{v['home_months']:.2f}"]
        cells += [f"{v['silence_alarms_by_rule'].get(r, 0):.1f}" for r in rules]
        cells += [f"{v['silence_alarms']:.1f}", f"{v['alarms_and_check_ins']:.1f}"]
        cells.append(f"{100 * v['away_share']:.0f} %")
        if v.get("cuts"):
            cells += [str(v["cuts"]), _h(v["median_h"]), _h(v["p90_h"]), str(v["missed_24h"])]
            timer = f"{v['timer_median_h']:.1f} / {v['timer_p90_h']:.1f}"
            cells.append(f"{v['timer_alerts']:.1f} / {timer}")
        else:
            cells += ["0", "—", "—", "—", f"{v['timer_alerts']:.1f} / — / —"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data/replay"))
    ap.add_argument("--homes", help="comma-separated home names (default: every <home>.csv)")
    ap.add_argument("--learn-days", type=int, default=7)
    ap.add_argument("--cuts", type=int, default=60)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.homes:
        names = [n.strip() for n in args.homes.split(",") if n.strip()]
    else:
        names = sorted(p.stem for p in args.data.glob("*.csv") if not p.stem.endswith(".away"))
    result = score(args.data, names, args.learn_days, args.cuts, args.seed)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(markdown(result))
        print(f"\n{len(result['cuts'])} cuts, seed {args.seed}; {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
