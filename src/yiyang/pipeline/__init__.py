"""The device pipeline: everything between a device and a stored alert.

transports (``transports/``: the MQTT listener, the DC-09 receiver, the HTTP ingest route) →
``gateway`` (validate against the format and the registry, dead-letter the rest) → ``bus``
(in-process) or ``jetstream`` (NATS JetStream), carrying the typed messages of ``messages`` →
``worker`` (telemetry via ``telemetry``, rules, alerts; one transaction per batch), with
``sweeper`` publishing clock ticks, device-silence notices and baselines onto the same bus, and
``runtime`` wiring it all (the ``Pipeline``, the leader lock, the timer loops).

This package is the top of the device path: it may import ``core``, ``devices``, ``alarms`` and
``notifications``; none of them imports it. Pure protocol code (``devices/protocols``), message
validation (``devices/messages``) and the alarm rules (``alarms/rules``) stay in their domains.
"""
