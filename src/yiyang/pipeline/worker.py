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
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.repository import ElderFacts, ParamsCache, StateCache, save_states, snapshot
from yiyang.core import audit, db
from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.core.transient import is_transient
from yiyang.devices.enums import SAFETY_DEVICES, DeviceStatus, DeviceType, EventKind
from yiyang.devices.models import DeadLetter, Device
from yiyang.pipeline import telemetry
from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.gateway import storable

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
        """Process the batch; a failure that is not transient (the database or bus away: the
        bus offers the same batch again until it is back) is narrowed down by halves to the
        message at fault, which alone becomes a poison message (``_poison``)."""
        try:
            await self._run(self.process, items)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(items) == 1:
                await self._run(self._poison, (items[0], exc))
                return
            half = len(items) // 2
            await self._handle(items[:half], batch[:half])
            await self._handle(items[half:], batch[half:])

    async def _run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)

    def _poison(self, args: tuple[dict[str, Any], BaseException]) -> None:
        """A message our own code fails on, alone and not for a transient reason: kept as a
        dead letter and logged, so its partition moves on; when it came from a safety device
        (or is an alarm), an alert of its own tells the operator to check on the elder, since
        whatever the message carried was never evaluated."""
        item, exc = args
        log.error(
            "rule worker failed on a message (elder %s, device %s, event %s); kept as a "
            "dead letter",
            item.get("e"),
            item.get("d"),
            item.get("ev"),
            exc_info=exc,
        )
        try:
            self._keep_poison(item, exc, alert=_from_safety_device(item))
        except Exception as again:
            if is_transient(again):
                raise
            log.exception("could not raise an alert for the failed message; dead letter only")
            self._keep_poison(item, exc, alert=False)

    def _keep_poison(self, item: dict[str, Any], exc: BaseException, *, alert: bool) -> None:
        now = self.clock()
        body = orjson.dumps(item, default=str)
        with db.unit_of_work() as session, audit.acting_as(audit.SYSTEM):
            session.add(
                DeadLetter(
                    received_at=now,
                    transport="bus",
                    source=f"elder:{item.get('e')}"[:255],
                    code="processing_error",
                    reason=storable(
                        f"the rule worker failed on this message ({type(exc).__name__}); "
                        "see the server log"
                    ),
                    serial=None,
                    msg_id=storable(str(item["id"]), 64) if item.get("id") else None,
                    size=len(body),
                    payload=storable(body.decode()[:65536]),
                )
            )
            if not alert:
                return
            elder = int(item["e"])
            facts = self.facts.get(session, {elder})
            if elder not in facts:
                return  # the elder was removed
            urgent = bool(item.get("u"))
            finding = rules.Finding(
                AlertType.UNPROCESSED,
                Severity.CRITICAL if urgent else Severity.WARNING,
                f"unprocessed:{item.get('d')}",
                now,
                {"device_type": str(item.get("t")), "event": str(item.get("ev"))},
                device_id=int(item["d"]) if item.get("d") is not None else None,
            )
            self.alerts_created += len(
                service.apply_findings(
                    session, {elder: [finding]}, {elder: facts[elder][1]}, self.params, now
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


def _from_safety_device(item: dict[str, Any]) -> bool:
    """A device message that may carry an alarm: urgent, or from a device whose silence leaves
    the elder unprotected."""
    if item.get("k") != "msg" or item.get("e") is None:
        return False
    if item.get("u"):
        return True
    try:
        return DeviceType(str(item.get("t"))) in SAFETY_DEVICES
    except ValueError:
        return False


def _urgent(items: list[dict[str, Any]]) -> bool:
    """A batch from the bus's urgent lane: alarms only (the gateway marks them ``u``)."""
    return bool(items) and all(i.get("u") for i in items)
