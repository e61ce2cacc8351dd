"""Configuration from environment variables (prefix ``YIYANG_``) or a ``.env`` file.

Every setting is listed, with its default and meaning, in the configuration table of README.md;
tests/core/test_readme_settings.py fails when a setting here is missing there.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIYANG_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{Path.cwd() / 'var' / 'yiyang.db'}"
    secret_key: str = "dev-only-change-me"  # reserved for signing; set a random one in production
    timezone: str = "Asia/Shanghai"  # local time at the edges (UI, reports); UTC inside
    default_locale: str = "zh_CN"  # zh_CN or en
    session_hours: int = 12  # browser session lifetime
    api_token_hours: int = 24  # owners and admins list and revoke them (GET /api/auth/tokens)
    cookie_secure: bool = False  # true behind HTTPS (also sends Strict-Transport-Security)
    # Sign-in throttling (docs/accounts.md). Failures count per (username, client address): that
    # pair slows down and, at login_max_failures, locks for login_lock_minutes, so a stranger
    # elsewhere cannot lock an operator out. One client address (an IPv6 /64) is locked after
    # login_address_max_failures failures across all usernames; a call centre's seats share one
    # NAT address, so that limit is far above the per-account one and successes never count.
    # Failures older than login_window_minutes are forgotten.
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_address_max_failures: int = 100
    login_window_minutes: int = 15
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated CIDRs, e.g.
    # "10.0.0.0/8,127.0.0.1/32"); the client is the right-most address not in this list.
    # Empty: the TCP peer is the client and X-Forwarded-For is ignored.
    trusted_proxies: str = ""
    db_pool_size: int = 10  # PostgreSQL connection pool size per process
    log_sql: bool = False  # echo SQL to the log
    # Device pipeline (gateway → bus → rule workers → alerts → notifications)
    pipeline: bool = True  # run the pipeline inside `yiyang serve`
    # mqtt://host:1883, or mqtts://host:8883 for TLS (a gateway on another machine than the
    # broker); user:password@ in the URL for the platform's own account. Empty: no MQTT listener
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    # TLS (mqtts:// only): the CA the broker's certificate must chain to (PEM; empty: the
    # system's trust store). The certificate must also name the URL's host. A client certificate
    # and its key (PEM; the key may sit in the certificate file) for brokers that require one.
    mqtt_ca_file: str = ""
    mqtt_cert_file: str = ""
    mqtt_key_file: str = ""
    mqtt_client_id: str = "yiyang-gateway"  # one gateway per client id (docs/deploy.md)
    mqtt_session_expiry_s: int = 7 * 24 * 3600  # how long the broker keeps messages for us
    # How long the MQTT listener lets a trickle gather into one gateway batch. On the JetStream
    # bus each batch becomes one transaction per partition, so a gateway there wants ~20 ms.
    mqtt_linger_ms: int = 5
    bus_partitions: int = 0  # 0: in-process 1 on SQLite (one writer), 4 on PostgreSQL; JetStream 16
    # Empty: the embedded in-process bus (one process does everything). nats://host:4222: the
    # JetStream bus; then `yiyang gateway` and `yiyang worker` run the pipeline (docs/deploy.md)
    bus_url: str = ""
    bus_stream: str = "YIYANG"  # the JetStream stream (and subject prefix)
    bus_ack_wait_s: float = 30.0  # a dead worker's partition moves on after this long
    # SIA DC-09 alarm receiver (TCP and UDP on one port); 0: off
    dc09_port: int = 0
    dc09_host: str = "0.0.0.0"  # address the DC-09 receiver listens on
    dc09_window_past_s: int = 40  # blocks timestamped outside -40 s / +20 s get NAK
    dc09_window_future_s: int = 20
    gateway_health_port: int = 8081  # `yiyang gateway` answers GET /healthz here
    # /healthz answers 503 when a device message received this long ago is still not stored
    # (database or bus away, or intake stuck): the load balancer and the on-call see it
    health_max_unstored_s: float = 30.0
    # The urgent lane's ack wait on JetStream: how long an alarm fetched by a worker that died
    # waits before another worker gets it (ordinary partitions wait bus_ack_wait_s)
    bus_urgent_ack_wait_s: float = 3.0
    retention_days: int = 180  # telemetry (messages, vitals, GPS, meter readings)
    sweep_seconds: int = 60  # how often silence rules and device health are checked
    escalation_seconds: float = 5.0  # how often due escalation rungs are checked
    # Device messages timestamped further ahead of / behind the platform clock are rejected
    ingest_max_future_minutes: int = 5
    ingest_max_past_hours: int = 72
    # Area code (e.g. "021") given to 7–8-digit local landline numbers in imported rolls;
    # empty: such numbers are stored as written
    default_area_code: str = ""
    ingest_signature_window_s: int = 300  # signed HTTP ingest: allowed clock skew of a request
    # Notification channels (unset: that channel's messages are marked skipped, with the reason)
    smtp_host: str = ""  # email: the SMTP server (docs/notifications.md)
    smtp_port: int = 25
    smtp_from: str = "yiyang@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    webhook_url: str = ""  # alert webhook; each POST signed with webhook_secret (HMAC-SHA256)
    webhook_secret: str = ""
    sms_url: str = ""  # HTTP adapter for an SMS carrier, see docs/notifications.md
    sms_token: str = ""
    dev_outbox: bool = False  # /dev/outbox lists kept SMS (sign-in codes!): development only
    duty_email: str = ""  # district duty officer's mailbox (escalation's last rung)
    notify_max_attempts: int = 8  # a notification is marked failed after this many attempts
    # Operator console
    public_base_url: str = "http://127.0.0.1:8000"  # links sent to responders' phones
    emergency_url: str = ""  # the 120 dispatch system's adapter (signed webhook), docs/console.md
    dispatch_link_hours: int = 24  # how long a responder's arrival link is valid
    map_tile_url: str = ""  # e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty: no tiles
    map_attribution: str = ""  # shown with the tiles (plain text)
    # shifts for the service-level report
    console_shifts: str = "day=08:00-16:00,evening=16:00-00:00,night=00:00-08:00"


@lru_cache
def get_settings() -> Settings:
    return Settings()
