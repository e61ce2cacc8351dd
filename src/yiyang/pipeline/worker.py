"""The rule worker: takes batches from the bus, stores the telemetry, runs the rules per elder
in order, raises and merges alerts and makes check-in tasks (``checkins``) — all in one
transaction per batch, so a crash before the commit leaves nothing behind and the redelivered
batch is processed as if for the first time.

Besides device messages the bus carries, per elder, clock ticks, device-silence notices and
freshly learned baselines from the sweeper: everything that changes an elder's rule state
passes through the one consumer that owns that elder's partition. The messages are typed
(``pipeline.messages``); bytes of another format are kept as dead letters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from yiyang.alarms import engine, rules, service
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.repository import ElderFacts, ParamsCache, StateCache, save_states, snapshot
from yiyang.checkins import decide as checkin_decide
from yiyang.checkins import service as checkins
from yiyang.core import audit, db
from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.core.transient import is_transient
from yiyang.devices.enums import SAFETY_DEVICES, DeviceStatus, DeviceType, EventKind
from yiyang.devices.messages import Rejection
from yiyang.devices.models import DeadLetter, Device
from yiyang.pipeline import telemetry
from yiyang.pipeline.batches import isolate
from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.gateway import RawMessage, dead_letter_row
from yiyang.pipeline.messages import (
    Baseline,
    DeviceEvent,
    Message,
    Offline,
    Tick,
    UndecodableMessage,
    encode,
)
from yiyang.registry import repository as registry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Batch:
    """What one batch gathers beside the findings: activity counts, devices to mark as heard
    from, and today's motion for the routine check."""

    due: list[telemetry.Heard]
    motion_today: dict[int, int]
    activity: Counter[tuple[int, dt.datetime, str]] = field(default_factory=Counter)


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
        items: list[Message] = []
        undecodable: list[tuple[BusMessage, UndecodableMessage]] = []
        for m in batch:
            try:
                items.append(m.decoded())
            except UndecodableMessage as exc:
                undecodable.append((m, exc))
        if undecodable:
            await self._run(self._keep_undecodable, undecodable)
        if not items:
            return
        if _urgent(items):
            # ordinary batches pause at their next step from now until the alarm is stored
            self._no_alarm.clear()
            try:
                await self._handle(items)
            finally:
                self._no_alarm.set()
        else:
            await self._handle(items)

    async def _handle(self, items: list[Message]) -> None:
        """Process the batch; a failure that is not transient (the database or bus away: the
        bus offers the same batch again until it is back) is narrowed down by halves to the
        message at fault, which alone becomes a poison message (``_poison``)."""
        await isolate(items, self._process, self._poisoned)

    async def _process(self, items: Sequence[Message]) -> None:
        await self._run(self.process, list(items))

    async def _poisoned(self, item: Message, exc: Exception) -> None:
        await self._run(self._poison, (item, exc))

    async def _run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)

    def _poison(self, args: tuple[Message, BaseException]) -> None:
        """A message our own code fails on, alone and not for a transient reason: kept as a
        dead letter and logged, so its partition moves on; when it came from a safety device
        (or is an alarm), an alert of its own tells the operator to check on the elder, since
        whatever the message carried was never evaluated."""
        item, exc = args
        log.error(
            "rule worker failed on a message (elder %s, device %s, event %s); kept as a "
            "dead letter",
            item.elder,
            getattr(item, "device", None),
            getattr(item, "event", None),
            exc_info=exc,
        )
        try:
            self._keep_poison(item, exc, alert=_from_safety_device(item))
        except Exception as again:
            if is_transient(again):
                raise
            log.exception("could not raise an alert for the failed message; dead letter only")
            self._keep_poison(item, exc, alert=False)

    def _keep_poison(self, item: Message, exc: BaseException, *, alert: bool) -> None:
        now = self.clock()
        body = encode(item)
        raw = RawMessage("bus", f"elder:{item.elder}", body, received_at=now)
        reason = (
            f"the rule worker failed on this message ({type(exc).__name__}); see the server log"
        )
        msg_id = item.id if isinstance(item, DeviceEvent) else None
        row = dead_letter_row(raw, Rejection("processing_error", reason, None, msg_id), body)
        with db.unit_of_work() as session, audit.acting_as(audit.SYSTEM):
            session.execute(insert(DeadLetter), [row])
            if not alert or not isinstance(item, DeviceEvent):
                return
            facts = self.facts.get(session, {item.elder})
            if item.elder not in facts:
                return  # the elder was removed
            finding = rules.Finding(
                AlertType.UNPROCESSED,
                Severity.CRITICAL if item.urgent else Severity.WARNING,
                f"unprocessed:{item.device}",
                now,
                {"device_type": str(item.type), "event": str(item.event)},
                device_id=item.device,
            )
            self.alerts_created += len(
                service.apply_findings(
                    session,
                    {item.elder: [finding]},
                    {item.elder: facts[item.elder][1]},
                    self.params,
                    now,
                )
            )

    def _keep_undecodable(self, found: list[tuple[BusMessage, UndecodableMessage]]) -> None:
        """Bytes on the bus that are no message of this version (e.g. published by an older
        gateway during a rolling upgrade): kept as dead letters and logged, never dropped."""
        now = self.clock()
        rows = []
        for m, exc in found:
            log.error("undecodable bus message (elder %s): %s; kept as a dead letter", m.key, exc)
            raw = RawMessage("bus", f"elder:{m.key}", m.body, received_at=now)
            reason = f"the rule worker could not decode this bus message: {exc}"
            rows.append(dead_letter_row(raw, Rejection("processing_error", reason), m.body))
        with db.unit_of_work() as session:
            session.execute(insert(DeadLetter), rows)

    def _give_way(self) -> None:
        """Between an ordinary batch's steps: let a running alarm batch go first."""
        self._no_alarm.wait(0.5)

    def process(self, items: list[Message]) -> int:
        """One transaction for the batch; returns the number of alerts created."""
        now = self.clock()
        with db.unit_of_work(db.pipeline_factory()) as session, audit.acting_as(audit.SYSTEM):
            created, touched, written = self._process_in(session, items, now)
        # only now: a rolled-back batch wrote nothing
        self.seen.written(touched)
        self.states.saved(written, now)
        self.processed += len(items)
        self.alerts_created += created
        return created

    def _process_in(
        self, session: Session, items: list[Message], now: dt.datetime
    ) -> tuple[int, list[telemetry.Heard], dict[int, tuple[Any, ...]]]:
        self.params.refresh(session)
        urgent = _urgent(items)
        # The consent gate, read fresh every batch so that a withdrawal takes effect with its
        # commit: the elders without the health-monitoring consent. Their passive messages lose
        # their readings here, before anything is stored, and the engine runs no passive rule
        # for them (``engine.withhold`` / ``Facts.monitoring``). An alarm batch (the urgent
        # lane: SOS, fall, smoke, gas) is never gated and skips the look-up.
        unmonitored = (
            set()
            if urgent
            else registry.system_unmonitored(session, sorted({i.elder for i in items}))
        )
        if unmonitored:
            off = rules.Facts(0, monitoring=False)
            items = [engine.withhold(i, off) if i.elder in unmonitored else i for i in items]
        msgs = [i for i in items if isinstance(i, DeviceEvent)]
        give_way = (lambda: None) if urgent else self._give_way
        give_way()
        fresh = telemetry.store_messages(session, msgs) if msgs else []
        fresh_ids = {id(i) for i in fresh}
        give_way()
        readings = [i for i in fresh if i.elder not in unmonitored]
        if readings:
            telemetry.store_readings(session, readings)
        # Alarms come in the urgent lane beside the elder's partition: they leave the device
        # row (and rule state, which they do not change) to the partition, so the two lanes
        # never wait on each other's row locks.
        due = [i for i in self.seen.due(fresh) if isinstance(i, DeviceEvent) and not i.urgent]

        work = [i for i in items if not isinstance(i, DeviceEvent) or id(i) in fresh_ids]
        elders = {i.elder for i in work}
        facts = self.facts.get(session, elders)
        for e in unmonitored & facts.keys():
            fact, region = facts[e]
            facts[e] = (replace(fact, monitoring=False), region)
        give_way()
        states, before = self.states.load(session, list(elders))
        give_way()
        touched: set[int] = set()
        findings: dict[int, list[rules.Finding]] = defaultdict(list)
        batch = _Batch(
            list(due), self._motion_today(session, [i for i in work if isinstance(i, Tick)])
        )
        for item in work:
            known = facts.get(item.elder)
            if known is None:
                continue  # the elder was removed since the gateway checked
            fact, region = known
            p = self.params.for_elder(item.elder, region)
            state = states.setdefault(item.elder, rules.State())
            touched.add(item.elder)
            findings[item.elder] += self._apply(session, item, state, p, fact, batch)
        written = {}
        for e in () if urgent else touched:  # alarms change no state; never write it from here
            snap = snapshot(states[e])
            if before.get(e) != snap:
                written[e] = snap
        give_way()
        save_states(session, {e: states[e] for e in written}, now)
        give_way()
        telemetry.add_activity(session, batch.activity)
        recovered = telemetry.touch_devices(session, batch.due)
        give_way()
        service.resolve_recovered(session, recovered, now)
        # The graded response: alarms go to the operators; a ``check_in`` finding becomes a
        # check-in task for a community worker, and an alarm about an elder's quiet takes over
        # that elder's open check-in task.
        regions = {e: facts[e][1] for e in findings if e in facts}
        alarm_findings, check_ins = checkin_decide.split(findings)
        created = service.apply_findings(session, alarm_findings, regions, self.params, now)
        checkins.supersede(session, created, now)
        checkins.open_tasks(session, check_ins, regions, self.params, now)
        return len(created), batch.due, written

    def _apply(
        self,
        session: Session,
        item: Message,
        state: rules.State,
        p: Any,
        fact: Any,
        batch: _Batch,
    ) -> list[rules.Finding]:
        """One message against the elder's rule state: the findings it raises."""
        match item:
            case DeviceEvent():
                ev = rules.Event(
                    item.device,
                    DeviceType(item.type),
                    EventKind(item.event),
                    item.at_time,
                    item.data,
                    item.battery,
                )
                found = engine.handle_event(state, ev, p, fact, self.tz)
                counted = engine.activity_count(ev, fact)
                if counted is not None:
                    hour, kind, n = counted
                    batch.activity[(item.elder, hour, kind)] += n
                return found
            case Tick():
                return engine.handle_tick(
                    state,
                    telemetry.ts(item.now),
                    p,
                    fact,
                    self.tz,
                    motion_today=batch.motion_today.get(item.elder),
                )
            case Offline():
                return self._offline(session, item, p, batch)
            case Baseline():
                engine.handle_baseline(state, item.base, item.days, fact)
        return []

    def _offline(
        self, session: Session, item: Offline, p: Any, batch: _Batch
    ) -> list[rules.Finding]:
        seen = item.seen
        latest = self.seen.latest(item.device)
        if latest is not None and latest > seen:
            # heard from since the stored last-seen (written at most every 30 s): store what we
            # know instead of raising a false alarm
            seen = latest
            batch.due.append(telemetry.Seen(item.device, latest))
        found = rules.device_offline(
            item.device,
            DeviceType(item.type),
            telemetry.ts(seen),
            item.interval,
            telemetry.ts(item.now),
            p,
        )
        if not found:
            return []
        self._mark_offline(session, item.device, seen)
        return [found]

    def _motion_today(self, session: Session, ticks: list[Tick]) -> dict[int, int]:
        wanted = [t for t in ticks if t.routine]
        if not wanted:
            return {}
        start, until = engine.motion_window(telemetry.ts(wanted[0].now), self.tz)
        return telemetry.motion_since(session, [t.elder for t in wanted], start, until)

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


def _from_safety_device(item: Message) -> bool:
    """A device message that may carry an alarm: urgent, or from a device whose silence leaves
    the elder unprotected."""
    if not isinstance(item, DeviceEvent):
        return False
    if item.urgent:
        return True
    try:
        return DeviceType(str(item.type)) in SAFETY_DEVICES
    except ValueError:
        return False


def _urgent(items: Sequence[Message]) -> bool:
    """A batch from the bus's urgent lane: alarms only (the gateway marks them urgent)."""
    return bool(items) and all(isinstance(i, DeviceEvent) and i.urgent for i in items)
