"""The rule worker: takes batches from the bus, stores the telemetry, runs the rules per elder
in order, raises and merges alerts — all in one transaction per batch, so a crash before the
commit leaves nothing behind and the redelivered batch is processed as if for the first time.

Besides device messages the bus carries, per elder, clock ticks, device-silence notices and
freshly learned baselines from the sweeper: everything that changes an elder's rule state
passes through the one consumer that owns that elder's partition.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.orm import Session

from yiyang.alarms import rules, service
from yiyang.alarms.repository import ElderFacts, ParamsCache, StateCache, save_states, snapshot
from yiyang.core import audit, db
from yiyang.core.bus import BusMessage
from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.devices import telemetry
from yiyang.devices.enums import DeviceStatus, DeviceType, EventKind
from yiyang.devices.models import DeadLetter, Device

log = logging.getLogger(__name__)


class RuleWorker:
    def __init__(self, *, clock: Callable[[], dt.datetime] = clock_now) -> None:
        self.clock = clock
        self.facts = ElderFacts()
        self.params = ParamsCache()
        self.tz = local_zone()
        self.seen = telemetry.LastSeen()
        self.states = StateCache()
        # Its own threads: the shared default pool (six on two cores) is also where the gateway
        # reads the device registry, and an alarm's batch must never queue behind those.
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rule-worker")
        # Cleared while an alarm batch is in progress: ordinary batches then wait at their next
        # step, so the alarm's transaction is not slowed by their Python work. (They hold no row
        # an alarm needs: alarms write no device row and no rule state.)
        self._no_alarm = threading.Event()
        self._no_alarm.set()
        self.processed = 0
        self.alerts_created = 0

    async def handle(self, batch: list[BusMessage]) -> None:
        items = [m.decoded() for m in batch]
        if _urgent(items):
            # ordinary batches pause at their next step from now until the alarm is stored
            self._no_alarm.clear()
            try:
                await self._handle(items, batch)
            finally:
                self._no_alarm.set()
        else:
            await self._handle(items, batch)

    async def _handle(self, items: list[dict[str, Any]], batch: list[BusMessage]) -> None:
        try:
            await self._run(self.process, items)
        except Exception:
            if len(items) == 1:
                # A message our own code cannot handle must not block its partition forever:
                # keep it for inspection and move on. (Infrastructure errors raise again on the
                # whole batch first, and the bus retries that batch.)
                await self._run(self._dead_letter, items[0])
                return
            # Split to find the one message at fault; the good ones still go through.
            for item, message in zip(items, batch, strict=True):
                try:
                    await self._run(self.process, [item])
                except Exception:
                    log.exception("message could not be processed; kept as a dead letter")
                    await self._run(self._dead_letter, message.decoded())

    async def _run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)

    def _dead_letter(self, item: dict[str, Any]) -> None:
        with db.unit_of_work() as session:
            session.add(
                DeadLetter(
                    transport="bus",
                    source=f"elder:{item.get('e')}",
                    code="processing_error",
                    reason="the rule worker failed on this message; see the server log",
                    serial=None,
                    msg_id=str(item.get("id"))[:64] if item.get("id") else None,
                    size=len(orjson.dumps(item)),
                    payload=orjson.dumps(item).decode()[:65536],
                )
            )

    def _give_way(self) -> None:
        """Between an ordinary batch's steps: let a running alarm batch go first."""
        self._no_alarm.wait(0.5)

    def process(self, items: list[dict[str, Any]]) -> int:
        """One transaction for the batch; returns the number of alerts created."""
        now = self.clock()
        with db.unit_of_work(db.pipeline_factory()) as session, audit.acting_as(audit.SYSTEM):
            created, touched, written = self._process(session, items, now)
        # only now: a rolled-back batch wrote nothing
        self.seen.written(touched)
        self.states.saved(written, now)
        self.processed += len(items)
        self.alerts_created += created
        return created

    def _process(
        self, session: Session, items: list[dict[str, Any]], now: dt.datetime
    ) -> tuple[int, list[dict[str, Any]], dict[int, tuple[Any, ...]]]:
        self.params.refresh(session)
        msgs = [i for i in items if i["k"] == "msg"]
        urgent = _urgent(items)
        give_way = (lambda: None) if urgent else self._give_way
        give_way()
        fresh = telemetry.store_messages(session, msgs) if msgs else []
        fresh_ids = {id(i) for i in fresh}
        give_way()
        if fresh:
            telemetry.store_readings(session, fresh)
        # Alarms come in the urgent lane beside the elder's partition: they leave the device
        # row (and rule state, which they do not change) to the partition, so the two lanes
        # never wait on each other's row locks.
        due = [i for i in self.seen.due(fresh) if not i.get("u")]

        work = [i for i in items if i["k"] != "msg" or id(i) in fresh_ids]
        elders = {i["e"] for i in work}
        facts = self.facts.get(session, elders)
        give_way()
        states, before = self.states.load(session, list(elders))
        give_way()
        touched: set[int] = set()
        findings: dict[int, list[rules.Finding]] = defaultdict(list)
        activity: Counter[tuple[int, dt.datetime, str]] = Counter()
        ticks = [i for i in work if i["k"] == "tick"]
        motion_today = self._motion_today(session, ticks)
        for item in work:
            elder = item["e"]
            known = facts.get(elder)
            if known is None:
                continue  # the elder was removed since the gateway checked
            fact, region = known
            p = self.params.for_elder(elder, region)
            state = states.setdefault(elder, rules.State())
            touched.add(elder)
            kind = item["k"]
            if kind == "msg":
                ev = rules.Event(
                    item["d"],
                    DeviceType(item["t"]),
                    EventKind(item["ev"]),
                    telemetry.at_of(item),
                    item["data"],
                    item["b"],
                )
                findings[elder] += rules.on_event(state, ev, p, fact, self.tz)
                if ev.event in (EventKind.MOTION, EventKind.DOOR):
                    n = int(ev.data.get("count", 1))
                    activity[(elder, telemetry.hour_of(ev.at), ev.event.value)] += n
            elif kind == "tick":
                at = telemetry.ts(item["now"])
                findings[elder] += rules.on_tick(
                    state, at, p, fact, self.tz, motion_today=motion_today.get(elder)
                )
            elif kind == "offline":
                seen = item["seen"]
                latest = self.seen.latest(item["d"])
                if latest is not None and latest > seen:
                    # heard from since the stored last-seen (written at most every 30 s):
                    # store what we know instead of raising a false alarm
                    seen = latest
                    due.append({"d": item["d"], "rx": latest, "b": None})
                found = rules.device_offline(
                    item["d"],
                    DeviceType(item["t"]),
                    telemetry.ts(seen),
                    item["iv"],
                    telemetry.ts(item["now"]),
                    p,
                )
                if found:
                    findings[elder].append(found)
                    self._mark_offline(session, item["d"], seen)
            elif kind == "baseline":
                state.baseline, state.baseline_days = item["base"], item["days"]
        written = {}
        for e in () if urgent else touched:  # alarms change no state; never write it from here
            snap = snapshot(states[e])
            if before.get(e) != snap:
                written[e] = snap
        give_way()
        save_states(session, {e: states[e] for e in written}, now)
        give_way()
        telemetry.add_activity(session, activity)
        recovered = telemetry.touch_devices(session, due)
        give_way()
        service.resolve_recovered(session, recovered, now)
        created = service.apply_findings(
            session, findings, {e: facts[e][1] for e in findings if e in facts}, self.params, now
        )
        return len(created), due, written

    def _motion_today(self, session: Session, ticks: list[dict[str, Any]]) -> dict[int, int]:
        wanted = [t for t in ticks if t.get("routine")]
        if not wanted:
            return {}
        at = telemetry.ts(wanted[0]["now"]).astimezone(self.tz)
        start = at.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        until = at.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
        return telemetry.motion_since(session, [t["e"] for t in wanted], start, until)

    def _mark_offline(self, session: Session, device_id: int, seen: float) -> None:
        self.seen.forget(device_id)
        session.execute(
            update(Device)
            .where(
                Device.id == device_id,
                Device.status == DeviceStatus.ACTIVE,
                Device.last_seen_at <= telemetry.ts(seen),
            )
            .values(status=DeviceStatus.OFFLINE)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session, "device_offline", "device", str(device_id), summary="missed heartbeats"
        )


def _urgent(items: list[dict[str, Any]]) -> bool:
    """A batch from the bus's urgent lane: alarms only (the gateway marks them ``u``)."""
    return bool(items) and all(i.get("u") for i in items)
