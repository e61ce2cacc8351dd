"""The app as a transport: away and back said in the app — by the elder, their family or staff
(``presence``), now or as a planned absence — reach the rule worker as the ``away`` / ``home``
messages of an away button (``away_button``), so the same rules run on them as on the wall
button by the door, under the same consent gate (``alarms.engine``), and the worker stays the
one writer of an elder's rule state.

The sweep (``runtime.Pipeline.sweep``, every ``sweep_seconds``, in the process that runs the
timers) calls ``messages``: for every absence whose start (a planned one at its time, even if
nobody opens a page) or end fell within ``presence.state.DELIVERY_WINDOW`` and is not yet in the
message log, a ``DeviceEvent`` goes on the bus. What makes it idempotent is the worker's own
deduplication: the message log keeps (device, message id) once, the app's messages carry the
device number ``APP_DEVICE`` and the id ``absence-<id>-away`` / ``-home``, so a message the
worker has stored is not sent again and one sent twice is processed once. The message names
its source: ``data = {"source": "app", "by": <user id>, "as": "elder" | "family" | "staff"}``,
with ``"until"`` (ISO 8601) when the elder said when they would be back.

Not through the gateway: the app is not a device (no serial, no signature, no clock of its
own to check); what it says was validated by the API. It enters the bus where the sweeper's
messages do, as the typed message the gateway would have made.

An elder away past the return time they said gets a ``Tick`` from here too, so "not back as
planned" is asked of the rules even in a home whose sensors give the sweeper no other reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.devices.enums import DeviceType
from yiyang.devices.models import DeviceMessage
from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.messages import DeviceEvent, Tick
from yiyang.presence import repository, state

APP_DEVICE = 0  # the device number of what is said in the app (no registered device has it)


def event_of(signal: state.Signal, now: dt.datetime) -> DeviceEvent:
    """The bus message for an away or back said in the app."""
    data: dict[str, Any] = {"source": "app", "by": signal.by, "as": signal.said}
    if signal.until is not None:
        data["until"] = signal.until.isoformat()
    return DeviceEvent(
        signal.elder_id,
        APP_DEVICE,
        DeviceType.AWAY_BUTTON.value,
        signal.event,
        signal.msg_id,
        signal.at.timestamp(),
        now.timestamp(),
        data,
    )


def messages(session: Session, now: dt.datetime) -> list[BusMessage]:
    """What the sweep publishes for the app at ``now``: the away and back not yet stored by the
    worker, and a tick for each elder away past the return time they said."""
    rows = repository.system_due(session, now)
    if not rows:
        return []
    due = state.signals(rows, now)
    stored = set(
        session.scalars(
            select(DeviceMessage.msg_id).where(
                DeviceMessage.device_id == APP_DEVICE,
                DeviceMessage.msg_id.in_([s.msg_id for s in due] or [""]),
            )
        )
    )
    out = [BusMessage.of(event_of(s, now)) for s in due if s.msg_id not in stored]
    stamp = now.timestamp()
    elders = sorted({a.elder_id for a in state.overdue(rows, now)})
    out += [BusMessage.of(Tick(elder, stamp)) for elder in elders]
    return out
