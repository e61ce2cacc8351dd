"""Parameter sweep for the learned silence model (docs/adr/0014): false alerts per home-month
against time to the first alert after a simulated collapse, for a grid of parameters, per home.

A quick in-memory loop over the production rules (``rules.on_event`` / ``rules.on_tick``, ticks
every ``--tick`` minutes, one alert per dedupe key as ``plan_alerts`` keeps it), used to choose
the parameters *before* scoring with ``bench/replay/score.py``: on the synthetic home, or
leaving the scored home out (``--loho``). Not the benchmark: ``yiyang replay`` and score.py are.

    .venv/bin/python bench/replay/silence_sweep.py tests/fixtures/replay/synth_home.csv
    H=$(ls /work/data/replay/*.csv | grep -v away)   # the homes, not their .away.csv
    .venv/bin/python bench/replay/silence_sweep.py $H --loho
    # a few grid points at a time, saved, then the leave-one-home-out choice and the curve:
    .venv/bin/python bench/replay/silence_sweep.py H.csv... --axis silence_spare_days=0,1 \
        --set silence_check_margin_minutes=90 --save /tmp/sweep.json
    .venv/bin/python bench/replay/silence_sweep.py H.csv... --load /tmp/sweep.json --loho --curve
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import itertools
import json
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms import rules
from yiyang.devices.enums import DeviceType, EventKind

TZ = ZoneInfo("Asia/Shanghai")
LEARN_DAYS = 7
SILENCE = {"inactivity", "morning_silence", "not_in_bed", "routine", "out_too_long"}
KIND: dict[str, tuple[EventKind, DeviceType, Callable[[float], dict[str, Any]]]] = {
    "motion": (EventKind.MOTION, DeviceType.PIR_MOTION, lambda v: {"count": int(v) or 1}),
    "contact": (EventKind.CONTACT, DeviceType.CONTACT_SENSOR, lambda v: {}),
    "door": (EventKind.DOOR, DeviceType.DOOR_SENSOR, lambda v: {"open": bool(v)}),
    "bed": (EventKind.BED, DeviceType.BED_SENSOR, lambda v: {"in_bed": bool(v)}),
    "away": (EventKind.AWAY, DeviceType.AWAY_BUTTON, lambda v: {}),
    "home": (EventKind.HOME, DeviceType.AWAY_BUTTON, lambda v: {}),
}


def read(path: Path) -> list[rules.Event]:
    out = []
    with path.open() as f:
        for row in csv.DictReader(f):
            spec = KIND.get(row["kind"])
            if spec is None:
                continue
            kind, dtype, data = spec
            at = dt.datetime.fromisoformat(row["ts"]).replace(tzinfo=TZ).astimezone(dt.UTC)
            out.append(
                rules.Event(
                    hash(row["sensor"]) % 10_000, dtype, kind, at, data(float(row["value"]))
                )
            )
    return out


def read_away(path: Path) -> list[tuple[dt.datetime, dt.datetime]]:
    if not path.exists():
        return []
    with path.open() as f:
        return [
            tuple(
                dt.datetime.fromisoformat(r[k]).replace(tzinfo=TZ).astimezone(dt.UTC)
                for k in ("start", "end")
            )  # type: ignore[misc]
            for r in csv.DictReader(f)
        ]


class Run:
    """One home replayed: alerts (one per key) and the states at chosen instants."""

    def __init__(self, events: list[rules.Event], p: rules.Params, tick: dt.timedelta) -> None:
        self.events, self.p, self.tick = events, p, tick
        self.facts = rules.Facts(1)

    def replay(
        self, cuts: list[dt.datetime], end: dt.datetime | None = None
    ) -> tuple[list[rules.Finding], dict[dt.datetime, tuple[rules.State, int]]]:
        """The alerts, and at each cut the state with today's motion count before it."""
        state = rules.State()
        seen: set[str] = set()
        found: list[rules.Finding] = []
        snaps: dict[dt.datetime, tuple[rules.State, int]] = {}
        pending = sorted(cuts)
        t = self.events[0].at.replace(minute=0, second=0)
        last = end or self.events[-1].at
        i = 0
        hourly: dict[dt.date, list[int]] = {}
        while t <= last:
            nxt = t + self.tick
            while i < len(self.events) and self.events[i].at < nxt:
                ev = self.events[i]
                while pending and pending[0] <= ev.at:
                    cut = pending.pop(0)
                    snaps[cut] = (copy.deepcopy(state), self._today(hourly, cut))
                self._take(rules.on_event(state, ev, self.p, self.facts, TZ), seen, found)
                if ev.event is EventKind.MOTION:
                    loc = ev.at.astimezone(TZ)
                    hourly.setdefault(loc.date(), [0] * 24)[loc.hour] += int(
                        ev.data.get("count", 1)
                    )
                i += 1
            while pending and pending[0] <= nxt:
                cut = pending.pop(0)
                snaps[cut] = (copy.deepcopy(state), self._today(hourly, cut))
            t = nxt
            motion = self._routine(state, t, hourly)
            self._take(
                rules.on_tick(state, t, self.p, self.facts, TZ, motion_today=motion), seen, found
            )
        return found, snaps

    def _routine(
        self, state: rules.State, t: dt.datetime, hourly: dict[dt.date, list[int]]
    ) -> int | None:
        loc = t.astimezone(TZ)
        if loc.minute >= self.tick.total_seconds() / 60:
            return None
        today = loc.date()
        if loc.hour == 0:
            past = [hourly[d] for d in sorted(hourly) if today - dt.timedelta(days=28) <= d < today]
            state.baseline = rules.learn_baseline(past) if past else None
            state.baseline_days = len(past)
        return sum(hourly.get(today, [0] * 24)[: loc.hour])

    @staticmethod
    def _today(hourly: dict[dt.date, list[int]], at: dt.datetime) -> int:
        return sum(hourly.get(at.astimezone(TZ).date(), [0] * 24))

    @staticmethod
    def _take(fs: list[rules.Finding], seen: set[str], out: list[rules.Finding]) -> None:
        for f in fs:
            if f.alert_type.value in SILENCE and f.key not in seen and not f.prompt_elder:
                seen.add(f.key)
                out.append(f)

    def collapse(
        self, snap: tuple[rules.State, int], cut: dt.datetime, limit: dt.timedelta
    ) -> float | None:
        """Hours from the cut to the first alert with no event after it (the routine check on
        each hour's first tick: today's motion stays what it was at the cut, 0 from midnight)."""
        s, before = copy.deepcopy(snap[0]), snap[1]
        day = cut.astimezone(TZ).date()
        t = cut
        while t - cut <= limit:
            t += self.tick
            loc = t.astimezone(TZ)
            motion = None
            if loc.minute < self.tick.total_seconds() / 60:
                motion = before if loc.date() == day else 0
            fs = rules.on_tick(s, t, self.p, self.facts, TZ, motion_today=motion)
            if any(f.alert_type.value in SILENCE and not f.prompt_elder for f in fs):
                return (t - cut).total_seconds() / 3600
        return None


def cuts_for(
    events: list[rules.Event], away: list[tuple[dt.datetime, dt.datetime]], n: int, seed: int
) -> list[dt.datetime]:
    rnd = random.Random(seed)
    first = events[0].at.astimezone(TZ).date() + dt.timedelta(days=LEARN_DAYS + 1)
    last = (events[-1].at - dt.timedelta(hours=24)).astimezone(TZ).date()
    days = (last - first).days
    out: list[dt.datetime] = []
    tries = 0
    while len(out) < n and days > 0 and tries < n * 50:
        tries += 1
        d = first + dt.timedelta(days=rnd.randrange(days + 1))
        at = dt.datetime.combine(d, dt.time(7), tzinfo=TZ) + dt.timedelta(
            minutes=rnd.randrange(14 * 60)
        )
        at = at.astimezone(dt.UTC)
        if any(a <= at <= b for a, b in away):
            continue  # a collapse at home
        out.append(at)
    return out


def score(path: Path, p: rules.Params, tick: dt.timedelta, ncuts: int) -> dict[str, Any]:
    events = read(path)
    away = read_away(path.with_suffix("").with_suffix(".away.csv"))
    run = Run(events, p, tick)
    cuts = cuts_for(events, away, ncuts, seed=16)
    found, snaps = run.replay(cuts)
    start = events[0].at + dt.timedelta(days=LEARN_DAYS)
    months = (events[-1].at - start).total_seconds() / 86400 / 30.44
    after = [f for f in found if f.at >= start]
    alarms = [f for f in after if not f.check_in]
    checks = [f for f in after if f.check_in]
    times = []
    for cut in cuts:
        h = run.collapse(snaps[cut], cut, dt.timedelta(hours=30))
        times.append(h if h is not None else 99.0)
    # a plain timer restarted by every event: an alert 12 h into each silence, and its delay
    stamps = [e.at for e in events]
    timer_alerts = sum(
        1 for a, b in itertools.pairwise(stamps) if b - a >= TIMER and a + TIMER >= start
    )
    timer_times = [
        (max(t for t in stamps if t < cut) + TIMER - cut).total_seconds() / 3600 for cut in cuts
    ]
    return {
        "months": months,
        "alarms": len(alarms),
        "checks": len(checks),
        "times": times,
        "timer_alerts": timer_alerts,
        "timer_times": timer_times,
        "found": after,
    }


def figures(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Pooled: alerts per home-month, the collapse times (median, p90, missed), the timer's."""
    months = sum(r["months"] for r in rows)
    alarms = sum(r["alarms"] for r in rows)
    checks = sum(r["checks"] for r in rows)
    times = sorted(t for r in rows for t in r["times"])
    timer = sorted(t for r in rows for t in r.get("timer_times", []))
    out = {
        "alarms_hm": alarms / months,
        "all_hm": (alarms + checks) / months,
        "cuts": len(times),
    }
    if times:
        out |= {
            "median_h": statistics.median(times),
            "p90_h": times[min(len(times) - 1, int(0.9 * len(times)))],
            "missed": sum(1 for t in times if t > 24),
        }
    if timer:
        out |= {
            "timer_hm": sum(r["timer_alerts"] for r in rows) / months,
            "timer_median_h": statistics.median(timer),
            "timer_p90_h": timer[min(len(timer) - 1, int(0.9 * len(timer)))],
        }
    return out


def summary(rows: list[dict[str, Any]]) -> str:
    f = figures(rows)
    if not f["cuts"]:
        return "no cuts"
    text = (
        f"alarms/hm {f['alarms_hm']:5.2f}  all/hm {f['all_hm']:5.2f}  "
        f"median {f['median_h']:5.2f} h  p90 {f['p90_h']:5.2f} h  >24h {f['missed']}/{f['cuts']}"
    )
    if "timer_hm" in f:
        text += (
            f"  | 12 h timer: {f['timer_hm']:5.2f}/hm, median {f['timer_median_h']:5.2f} h, "
            f"p90 {f['timer_p90_h']:5.2f} h"
        )
    return text


def curve(results: dict[str, dict[str, dict[str, Any]]], names: list[str]) -> None:
    """Every configuration, all homes pooled (in-sample: the curve, not a claim), by false
    alerts per home-month."""
    rows = [(c, figures([results[c][h] for h in names])) for c in results]
    print("| configuration | alarms / hm | + check-ins / hm | median h | p90 h | missed |")
    print("|---|---|---|---|---|---|")
    for c, f in sorted(rows, key=lambda r: (r[1]["all_hm"], r[1]["median_h"])):
        print(
            f"| {c} | {f['alarms_hm']:.2f} | {f['all_hm']:.2f} | {f['median_h']:.2f} "
            f"| {f['p90_h']:.2f} | {f['missed']} |"
        )
    f = figures([results[next(iter(results))][h] for h in names])
    if "timer_hm" in f:
        print(
            f"| a plain 12 h timer | {f['timer_hm']:.2f} | {f['timer_hm']:.2f} "
            f"| {f['timer_median_h']:.2f} | {f['timer_p90_h']:.2f} | 0 |"
        )


TIMER = dt.timedelta(hours=12)
GRID = {
    "silence_check_factor": (1.0, 1.25),
    "silence_spare_days": (0, 1),
    "silence_check_margin_minutes": (60, 90, 120),
    "silence_alarm_after_minutes": (120, 180),
}


def pick(rows: dict[str, dict[str, Any]]) -> tuple[float, float, float, float]:
    """How a configuration is ranked on the homes it may see: within the alert targets first
    (alarms ≤ 2 and alarms + check-ins ≤ 6 per home-month), then the least beyond the time
    targets (median ≤ 6 h, p90 ≤ 10 h), then the shortest median, then p90."""
    f = figures(list(rows.values()))
    over = max(0.0, f["alarms_hm"] - 2) + max(0.0, f["all_hm"] - 6)
    late = max(0.0, f["median_h"] - 6) + max(0.0, f["p90_h"] - 10)
    return (over, late, f["median_h"], f["p90_h"])


def loho(results: dict[str, dict[str, dict[str, Any]]], names: list[str]) -> None:
    """Leave one home out: each home scored with the configuration ranked best on the others."""
    held: list[dict[str, Any]] = []
    for name in names:
        best = min(results, key=lambda c: pick({h: results[c][h] for h in names if h != name}))
        print(f"  {name:14s} chosen without it: {best}  {summary([results[best][name]])}")
        held.append(results[best][name])
    print(f"leave-one-home-out pooled: {summary(held)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("csv", nargs="+", type=Path)
    ap.add_argument("--tick", type=int, default=5, help="minutes between ticks")
    ap.add_argument("--cuts", type=int, default=20, help="collapses per home")
    ap.add_argument("--grid", action="store_true", help="sweep GRID")
    ap.add_argument("--loho", action="store_true", help="sweep GRID, leave one home out")
    ap.add_argument("--set", action="append", default=[], help="param=value")
    ap.add_argument(
        "--axis",
        action="append",
        default=[],
        help="param=v1,v2,... replaces GRID (repeatable: their product is swept)",
    )
    ap.add_argument("--save", type=Path, help="add each configuration's results to this JSON")
    ap.add_argument(
        "--load",
        type=Path,
        action="append",
        default=[],
        help="results saved by --save (repeatable): no run, only --loho and --curve",
    )
    ap.add_argument("--curve", action="store_true", help="the trade-off table, all homes pooled")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    base: dict[str, Any] = {}
    for item in a.set:
        k, v = item.split("=")
        base[k] = _number(v)
    tick = dt.timedelta(minutes=a.tick)
    axes = {k: tuple(_number(x) for x in v.split(",")) for k, v in (x.split("=") for x in a.axis)}
    axes = axes or GRID
    grid = (
        [dict(zip(axes, c, strict=True)) for c in itertools.product(*axes.values())]
        if a.grid or a.loho or a.axis
        else [{}]
    )
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if a.load:
        for path in a.load:
            results |= json.loads(path.read_text())
        names = [p.stem for p in a.csv]
        if a.curve:
            curve(results, names)
        if a.loho:
            loho(results, names)
        return
    for g in grid:
        p = rules.Params.layered(base, g)
        rows = {}
        for path in a.csv:
            r = score(path, p, tick, a.cuts)
            rows[path.stem] = r
            if a.verbose:
                print(f"  {path.stem:14s} {summary([r])}", file=sys.stderr)
                for f in r["found"]:
                    when = f.at.astimezone(TZ)
                    what = f"{f.alert_type.value:16s} {f.response.value:8s}"
                    print(f"     {when:%m-%d %H:%M} {what} {f.reason or f.detail}", file=sys.stderr)
        results[str({**base, **g})] = rows
        print(f"{ {**base, **g} }  {summary(list(rows.values()))}", flush=True)
        if a.save:
            saved = json.loads(a.save.read_text()) if a.save.exists() else {}
            saved[str({**base, **g})] = {
                h: {k: v for k, v in r.items() if k != "found"} for h, r in rows.items()
            }
            a.save.write_text(json.dumps(saved))
    if a.curve:
        curve(results, [p.stem for p in a.csv])
    if a.loho:
        loho(results, [p.stem for p in a.csv])


def _number(v: str) -> float | int:
    return float(v) if "." in v else int(v)


if __name__ == "__main__":
    main()
