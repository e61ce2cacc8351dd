"""Device types, the events each may send, and device states."""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class DeviceType(enum.StrEnum):
    SOS_BUTTON = "sos_button"
    SMART_WATCH = "smart_watch"
    FALL_RADAR = "fall_radar"
    SMOKE_ALARM = "smoke_alarm"
    GAS_ALARM = "gas_alarm"
    DOOR_SENSOR = "door_sensor"
    PIR_MOTION = "pir_motion"
    WATER_METER = "water_meter"
    BP_MONITOR = "bp_monitor"
    GLUCOSE_METER = "glucose_meter"
    BED_SENSOR = "bed_sensor"
    # A reed or switch contact on an object the resident uses (cupboard, fridge, flush, light
    # switch): each report is a sign that someone is at home using it.
    CONTACT_SENSOR = "contact_sensor"
    # A two-key wall button by the front door, "leaving" / "back home" (离家 / 回家), as on an
    # alarm keypad's arm-away / disarm; kept apart from the SOS button, which does nothing else.
    AWAY_BUTTON = "away_button"
    # A social-alarm hub or alarm panel reporting to the receiving centre over SIA DC-09 or
    # forwarded Contact ID; its account is bound to an elder like any device.
    ALARM_PANEL = "alarm_panel"


class DeviceProtocol(enum.StrEnum):
    """How a device reaches the platform (docs/devices.md "Sending messages")."""

    MQTT = "mqtt"  # its own MQTT connection: username = serial, a per-device password
    VENDOR = "vendor"  # through its vendor's cloud: the vendor gateway's MQTT or signed HTTP
    DC09 = "dc09"  # an alarm panel calling the receiver over SIA DC-09 (its account)


class EventKind(enum.StrEnum):
    HEARTBEAT = "heartbeat"  # "I am alive" (battery rides along on any message)
    SOS = "sos"
    FALL = "fall"
    SMOKE = "smoke"
    GAS = "gas"
    TEST = "test"  # the user pressed the alarm's test button
    TAMPER = "tamper"
    VITALS = "vitals"  # heart rate, SpO2, breathing rate, temperature
    GPS = "gps"
    STEPS = "steps"
    WEAR = "wear"  # watch put on / taken off
    PRESENCE = "presence"
    DOOR = "door"
    MOTION = "motion"
    METER = "meter"  # cumulative water meter reading
    BP = "bp"
    GLUCOSE = "glucose"
    BED = "bed"
    CONTACT = "contact"  # an object used (contact sensor)
    AWAY = "away"  # the resident says they are going out (away button)
    HOME = "home"  # the resident says they are back (away button)
    TROUBLE = "trouble"  # a panel's trouble report: power, battery, communication, supervision
    CID = "cid"  # a raw Contact ID frame (on the wire only; mapped to one of the above)


class DeviceStatus(enum.StrEnum):
    ACTIVE = "active"
    OFFLINE = "offline"
    FAULTY = "faulty"
    RETIRED = "retired"


E = EventKind
# Alarms that raise a critical alert at once (the rules' IMMEDIATE): the gateway sends them in
# the bus's urgent lane, ahead of any backlog of ordinary telemetry.
URGENT = frozenset({E.SOS, E.FALL, E.SMOKE, E.GAS})
# Never gated by consent: alarms, a device's reports on itself (tamper, trouble), the alarm's
# test button, heartbeats and raw Contact ID frames. Every other kind observes the person —
# passive monitoring, which needs the health-monitoring consent (alarms.engine's gate).
SAFETY_EVENTS = URGENT | {E.TAMPER, E.TROUBLE, E.TEST, E.HEARTBEAT, E.CID}
PASSIVE_EVENTS = frozenset(EventKind) - SAFETY_EVENTS
COMMON = frozenset({E.HEARTBEAT, E.TAMPER})
EVENTS: dict[DeviceType, frozenset[EventKind]] = {
    DeviceType.SOS_BUTTON: COMMON | {E.SOS},
    DeviceType.SMART_WATCH: COMMON | {E.SOS, E.FALL, E.VITALS, E.GPS, E.STEPS, E.WEAR},
    DeviceType.FALL_RADAR: COMMON | {E.FALL, E.PRESENCE, E.VITALS},
    DeviceType.SMOKE_ALARM: COMMON | {E.SMOKE, E.TEST},
    DeviceType.GAS_ALARM: COMMON | {E.GAS, E.TEST},
    DeviceType.DOOR_SENSOR: COMMON | {E.DOOR},
    DeviceType.PIR_MOTION: COMMON | {E.MOTION},
    DeviceType.WATER_METER: COMMON | {E.METER},
    DeviceType.BP_MONITOR: COMMON | {E.BP},
    DeviceType.GLUCOSE_METER: COMMON | {E.GLUCOSE},
    DeviceType.BED_SENSOR: COMMON | {E.BED, E.VITALS},
    DeviceType.CONTACT_SENSOR: COMMON | {E.CONTACT},
    DeviceType.AWAY_BUTTON: COMMON | {E.AWAY, E.HOME},
    DeviceType.ALARM_PANEL: COMMON | {E.SOS, E.SMOKE, E.GAS, E.TEST, E.TROUBLE, E.CID},
}

# Reporting interval (seconds) a new device of each type gets unless told otherwise.
DEFAULT_INTERVAL: dict[DeviceType, int] = {
    DeviceType.SOS_BUTTON: 3600,
    DeviceType.SMART_WATCH: 1800,
    DeviceType.FALL_RADAR: 1800,
    DeviceType.SMOKE_ALARM: 3600 * 4,
    DeviceType.GAS_ALARM: 3600 * 4,
    DeviceType.DOOR_SENSOR: 3600,
    DeviceType.PIR_MOTION: 3600,
    DeviceType.WATER_METER: 3600,
    DeviceType.BP_MONITOR: 3600 * 24,
    DeviceType.GLUCOSE_METER: 3600 * 24,
    DeviceType.BED_SENSOR: 1800,
    DeviceType.CONTACT_SENSOR: 3600,
    DeviceType.AWAY_BUTTON: 3600,
    DeviceType.ALARM_PANEL: 3600,  # the line supervision interval (3 min to 24 h)
}

# Devices whose silence leaves the elder unprotected: offline is a warning, not a note.
SAFETY_DEVICES = frozenset(
    {
        DeviceType.SOS_BUTTON,
        DeviceType.SMOKE_ALARM,
        DeviceType.GAS_ALARM,
        DeviceType.FALL_RADAR,
        DeviceType.ALARM_PANEL,
    }
)

# Devices that only observe the person (vitals, activity, bed, water, presence): binding one to
# an elder needs the elder's health-monitoring consent (PIPL art. 29; devices.service.bind). The
# others may always be bound: the SOS button, smoke and gas alarms and the alarm panel only ever
# raise an alarm, and the fall radar and the smart watch are the fall and SOS alarms the consent
# text promises are "not affected". What these two also sense (presence, breathing, vitals,
# position) is withheld by the engine's gate while the consent is missing (alarms/engine.py
# ``withhold``, pipeline/worker.py), so binding them lets no passive data through.
CONSENT_FREE_DEVICES = frozenset(
    {
        DeviceType.SOS_BUTTON,
        DeviceType.SMOKE_ALARM,
        DeviceType.GAS_ALARM,
        DeviceType.ALARM_PANEL,
        DeviceType.FALL_RADAR,
        DeviceType.SMART_WATCH,
    }
)
MONITORING_DEVICES = frozenset(DeviceType) - CONSENT_FREE_DEVICES

TYPE_LABELS: dict[DeviceType, str] = {
    DeviceType.SOS_BUTTON: N_("One-key SOS button"),
    DeviceType.SMART_WATCH: N_("Smart watch"),
    DeviceType.FALL_RADAR: N_("Fall radar"),
    DeviceType.SMOKE_ALARM: N_("Smoke alarm"),
    DeviceType.GAS_ALARM: N_("Gas alarm"),
    DeviceType.DOOR_SENSOR: N_("Door sensor"),
    DeviceType.PIR_MOTION: N_("Motion sensor"),
    DeviceType.WATER_METER: N_("Water meter"),
    DeviceType.BP_MONITOR: N_("Blood-pressure meter"),
    DeviceType.GLUCOSE_METER: N_("Glucose meter"),
    DeviceType.BED_SENSOR: N_("Bed sensor"),
    DeviceType.CONTACT_SENSOR: N_("Contact sensor (cupboard, fridge, flush, switch)"),
    DeviceType.AWAY_BUTTON: N_("Away / home button"),
    DeviceType.ALARM_PANEL: N_("Alarm panel (DC-09 / Contact ID)"),
}

STATUS_LABELS: dict[DeviceStatus, str] = {
    DeviceStatus.ACTIVE: N_("Active"),
    DeviceStatus.OFFLINE: N_("Offline"),
    DeviceStatus.FAULTY: N_("Faulty"),
    DeviceStatus.RETIRED: N_("Retired"),
}

PROTOCOL_LABELS: dict[DeviceProtocol, str] = {
    DeviceProtocol.MQTT: N_("MQTT, its own password"),
    DeviceProtocol.VENDOR: N_("Through the vendor's platform"),
    DeviceProtocol.DC09: N_("SIA DC-09 alarm receiver"),
}

EVENT_LABELS: dict[EventKind, str] = {
    E.HEARTBEAT: N_("heartbeat"),
    E.SOS: N_("SOS pressed"),
    E.FALL: N_("fall detected"),
    E.SMOKE: N_("smoke detected"),
    E.GAS: N_("gas detected"),
    E.TEST: N_("alarm test"),
    E.TAMPER: N_("tampered with"),
    E.VITALS: N_("vital signs"),
    E.GPS: N_("location"),
    E.STEPS: N_("steps"),
    E.WEAR: N_("worn / taken off"),
    E.PRESENCE: N_("presence"),
    E.DOOR: N_("door"),
    E.MOTION: N_("motion"),
    E.METER: N_("water meter reading"),
    E.BP: N_("blood pressure"),
    E.GLUCOSE: N_("blood glucose"),
    E.BED: N_("in / out of bed"),
    E.CONTACT: N_("object used"),
    E.AWAY: N_("going out"),
    E.HOME: N_("back home"),
    E.TROUBLE: N_("trouble report"),
    E.CID: N_("Contact ID frame"),
}
