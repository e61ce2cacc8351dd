"""The `yiyang` command line: migrate, demo-data, serve, gateway, worker, simulate, create-user,
import-elders, make-roll, replay."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

app = typer.Typer(help="Yiyang (颐养) elderly care platform.", no_args_is_help=True)
DbOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="YIYANG_DATABASE_URL",
        help="SQLAlchemy URL; defaults to the embedded SQLite file",
    ),
]


def _engine(url: str | None) -> Engine:
    """The database for a command, with the domains' rules installed (yiyang.domains)."""
    from yiyang import domains
    from yiyang.core import db
    from yiyang.core.config import get_settings

    domains.install()
    engine = db.make_engine(url or get_settings().database_url)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    db.set_engine(engine)
    return engine


@app.command()
def migrate(database_url: DbOption = None, revision: str = "head") -> None:
    """Bring the database schema up to date (Alembic)."""
    from yiyang.core.migrate import upgrade

    engine = _engine(database_url)
    upgrade(engine, revision)
    typer.echo(f"schema at {revision}: {engine.url.render_as_string(hide_password=True)}")


@app.command("demo-data")
def demo_data(
    elders: Annotated[int, typer.Option(min=0, help="How many elders")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 1,
    if_empty: Annotated[bool, typer.Option(help="Do nothing if elders exist already")] = False,
    history_days: Annotated[
        int, typer.Option(min=0, help="Weeks of past services and alarms, in days (0: none)")
    ] = 0,
    database_url: DbOption = None,
) -> None:
    """Load a plausible demo district (徐汇区), its elders and a demo user for every role."""
    from sqlalchemy import func, select

    from yiyang.core.db import unit_of_work
    from yiyang.demo.load import DEMO_PASSWORD, demo_users, load
    from yiyang.registry.models import Elder

    _engine(database_url)
    with unit_of_work() as session:
        if if_empty and session.scalar(select(func.count()).select_from(Elder)):
            typer.echo("demo data already loaded")
        else:
            counts = load(session, elders, seed, history_days)
            typer.echo(f"elders: {counts}")
    typer.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
    for user in demo_users("310104003000", "310104003001"):
        typer.echo(f"  {user.username:<10} {user.role.value:<17} {user.display_name}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool = False,
    workers: int = 1,
    database_url: DbOption = None,
) -> None:
    """Serve the web pages and the API."""
    import os

    import uvicorn

    if database_url:
        os.environ["YIYANG_DATABASE_URL"] = database_url
    typer.echo(f"Yiyang on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")
    uvicorn.run(
        "yiyang.app:serve_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        log_level="info",
        # The client's address is decided once, by YIYANG_TRUSTED_PROXIES (core.auth.client_ip);
        # uvicorn's own X-Forwarded-For handling would trust any local peer's header.
        proxy_headers=False,
    )


def _run_until_signalled(main: object) -> None:
    """Run an async ``main(stop_event)`` until SIGINT/SIGTERM."""
    import asyncio
    import signal

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)  # type: ignore[operator]

    asyncio.run(runner())


def _scaled_out_settings(bus_url: str | None) -> None:
    import os

    from yiyang.core.config import get_settings

    if bus_url:
        os.environ["YIYANG_BUS_URL"] = bus_url
        get_settings.cache_clear()
    if not get_settings().bus_url:
        typer.echo(
            "set YIYANG_BUS_URL (e.g. nats://127.0.0.1:4222): gateway and worker "
            "processes meet on the JetStream bus",
            err=True,
        )
        raise typer.Exit(2)


BusOption = Annotated[
    str | None, typer.Option("--bus-url", help="JetStream URL; defaults to YIYANG_BUS_URL")
]


@app.command()
def worker(database_url: DbOption = None, bus_url: BusOption = None) -> None:
    """Consume the JetStream bus: rules, alerts, and (in whichever worker holds the leader
    lock) the timers: silence sweeps, escalation, the notification outbox. Run several."""
    import logging

    from yiyang.pipeline.runtime import Pipeline

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _scaled_out_settings(bus_url)
    _engine(database_url)

    async def main(stop: object) -> None:
        pipeline = Pipeline(listen=False, loops="leader")
        await pipeline.start()
        typer.echo(f"worker: consuming {pipeline.bus.partitions} partitions")
        try:
            await stop.wait()  # type: ignore[attr-defined]
        finally:
            await pipeline.stop()

    _run_until_signalled(main)


@app.command()
def gateway(
    database_url: DbOption = None,
    bus_url: BusOption = None,
    dc09_port: Annotated[int | None, typer.Option(help="DC-09 TCP/UDP port (0: off)")] = None,
    health_port: Annotated[int | None, typer.Option(help="GET /healthz port")] = None,
) -> None:
    """Listen to devices (MQTT, SIA DC-09 over TCP/UDP) and put what they send on the
    JetStream bus; acknowledges a device only once the bus has stored its message."""
    import logging

    from yiyang.core.config import get_settings
    from yiyang.pipeline.runtime import Pipeline, serve_health

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _scaled_out_settings(bus_url)
    _engine(database_url)
    settings = get_settings()

    async def main(stop: object) -> None:
        pipeline = Pipeline(consume=False, loops=False, dc09_port=dc09_port)
        await pipeline.start()
        server = await serve_health(pipeline, health_port or settings.gateway_health_port)
        typer.echo(f"gateway: {pipeline.health()}")
        try:
            await stop.wait()  # type: ignore[attr-defined]
        finally:
            server.close()
            await pipeline.stop()

    _run_until_signalled(main)


@app.command("create-user")
def create_user_cmd(
    username: str,
    role: str,
    region: Annotated[str, typer.Option(help="12-digit region code")],
    display_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted")] = None,
    database_url: DbOption = None,
) -> None:
    """Create a user bound to a region."""
    from yiyang.accounts.service import create_user
    from yiyang.core.db import unit_of_work
    from yiyang.core.errors import DomainError
    from yiyang.core.roles import Role

    _engine(database_url)
    secret = password or getpass.getpass("Password: ")
    try:
        with unit_of_work() as session:
            user = create_user(
                session,
                username=username,
                password=secret,
                display_name=display_name or username,
                role=Role(role),
                region_code=region,
            )
            typer.echo(f"created user {user.username} ({user.role})")
    except DomainError as exc:
        raise typer.BadParameter(exc.message) from None


@app.command("reset-password")
def reset_password_cmd(username: str, database_url: DbOption = None) -> None:
    """Give a user a temporary password (printed once; changed at the next sign-in)."""
    from yiyang.accounts.users import reset_from_the_console
    from yiyang.core.db import unit_of_work
    from yiyang.core.errors import DomainError

    _engine(database_url)
    try:
        with unit_of_work() as session:
            issued = reset_from_the_console(session, username)
    except DomainError as exc:
        raise typer.BadParameter(exc.message) from None
    typer.echo(f"temporary password for {issued.user.username}: {issued.temporary_password}")
    typer.echo("it must be changed at the next sign-in")


@app.command("import-elders")
def import_elders(
    file: Path,
    as_user: Annotated[str, typer.Option("--as", help="Username acting")] = "admin",
    dry_run: bool = False,
    database_url: DbOption = None,
) -> None:
    """Import an elder roll (XLSX or CSV) as a user; prints the report."""
    from sqlalchemy import select

    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for
    from yiyang.core import audit
    from yiyang.core.db import unit_of_work
    from yiyang.registry import imports

    _engine(database_url)
    data = file.read_bytes()
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == as_user))
        if user is None:
            raise typer.BadParameter(f"no user {as_user!r}")
        actor = actor_for(user)
        with audit.acting_as(audit.AuditActor(user.id, user.username, user.role, "cli")):
            fn = imports.dry_run if dry_run else imports.import_now
            batch, outcome = fn(session, actor, file.name, data)
    typer.echo(
        f"batch {batch.id}: rows={outcome.total} created={outcome.created} "
        f"updated={outcome.updated} unchanged={outcome.unchanged} "
        f"rejected={len(outcome.rejected)}"
    )
    for item in outcome.rejected[:20]:
        reasons = "; ".join(f"{e['column']}: {e['message']}" for e in item["errors"])
        typer.echo(f"  row {item['row']}: {reasons}")


@app.command("make-roll")
def make_roll(
    out: Path,
    elders: int = 1000,
    seed: int = 1,
    bad_every: Annotated[int, typer.Option(help="Corrupt every Nth row (0: none)")] = 0,
) -> None:
    """Write a demo roll as .csv (UTF-8), .gbk.csv or .xlsx — for trials and benchmarks."""
    from yiyang.demo.rolls import write_roll

    write_roll(out, elders, seed, bad_every)
    typer.echo(f"wrote {out}")


regions_app = typer.Typer(help="The region tree (district → street → community).")
app.add_typer(regions_app, name="regions")


@regions_app.command("load")
def regions_load(
    file: Annotated[Path, typer.Argument(help="CSV with the columns code,name,parent_code")],
    database_url: DbOption = None,
) -> None:
    """Load a district's official administrative-division list (国家统计局 统计用区划代码:
    code, name, parent code). Missing regions are created, renamed ones renamed; running it
    again changes nothing. Every write is audited."""
    from yiyang.core import audit
    from yiyang.core.db import unit_of_work
    from yiyang.core.errors import DomainError
    from yiyang.regions.service import load_divisions, read_division_csv

    _engine(database_url)
    try:
        rows = read_division_csv(file.read_bytes())
        with (
            audit.acting_as(audit.AuditActor(None, "regions-load")),
            unit_of_work() as session,
        ):
            result = load_divisions(session, rows)
    except DomainError as exc:
        raise typer.BadParameter(exc.message) from None
    typer.echo(
        f"regions: created={result.created} renamed={result.renamed} unchanged={result.unchanged}"
    )


if __name__ == "__main__":
    app()


@app.command()
def simulate(
    elders: Annotated[int, typer.Option(help="How many equipped demo elders to simulate")] = 200,
    rate: Annotated[float, typer.Option(help="Ordinary messages per second")] = 5.0,
    transport: Annotated[str, typer.Option(help="mqtt or http")] = "http",
    url: Annotated[
        str | None,
        typer.Option(help="Broker (mqtt://host:port) or platform (http://host:port) address"),
    ] = None,
    incidents: Annotated[bool, typer.Option(help="Play the scripted incidents")] = True,
    duration: Annotated[float, typer.Option(help="Seconds to run (0: until stopped)")] = 0,
    database_url: DbOption = None,
) -> None:
    """Publish realistic device traffic for the demo district, with scripted incidents."""
    import time

    import httpx
    import orjson

    from yiyang.core.clock import now
    from yiyang.core.db import unit_of_work
    from yiyang.devices import simulator
    from yiyang.pipeline.transports.http import signature

    _engine(database_url)
    with unit_of_work() as session:
        kits, secrets = simulator.load_kits(session, elders)
    if not kits:
        typer.echo("no equipped elders: run `yiyang demo-data` first", err=True)
        raise typer.Exit(1)
    vendor_of = {serial: vendor for k in kits for serial, vendor in k.devices.values()}

    if transport == "mqtt":
        from urllib.parse import urlparse

        import paho.mqtt.client as mqtt

        target = urlparse(url or "mqtt://127.0.0.1:1883")
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"yiyang-sim-{time.time_ns()}"
        )
        client.connect(target.hostname or "127.0.0.1", target.port or 1883)
        client.loop_start()

        def send(batch: list[dict]) -> None:
            for m in batch:
                client.publish(f"yiyang/v1/devices/{m['device']}/up", orjson.dumps(m), qos=1)

    else:
        base = (url or "http://127.0.0.1:8000").rstrip("/")
        http = httpx.Client(timeout=30)

        def send(batch: list[dict]) -> None:
            by_vendor: dict[str, list[dict]] = {}
            for m in batch:
                by_vendor.setdefault(vendor_of[m["device"]], []).append(m)
            for vendor, msgs in by_vendor.items():
                body = orjson.dumps({"messages": msgs})
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "X-Yiyang-Vendor": vendor,
                    "X-Yiyang-Timestamp": stamp,
                    "X-Yiyang-Signature": signature(secrets[vendor], stamp, body),
                }
                for attempt in range(30):
                    try:
                        r = http.post(f"{base}/api/ingest", content=body, headers=headers)
                        if r.status_code < 500:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(min(2.0, 0.2 * (attempt + 1)))
                    stamp = str(int(time.time()))
                    headers["X-Yiyang-Timestamp"] = stamp
                    headers["X-Yiyang-Signature"] = signature(secrets[vendor], stamp, body)

    start = time.monotonic()
    script = simulator.incidents(kits, now()) if incidents else []
    typer.echo(f"simulating {len(kits)} elders at {rate}/s via {transport}; {len(script)} scripted")
    sent = 0
    for batch in simulator.live(kits, rate):
        elapsed = time.monotonic() - start
        while script and script[0][0] <= elapsed:
            batch.append(script.pop(0)[1])
        if batch:
            send(batch)
            sent += len(batch)
        if duration and elapsed >= duration:
            break
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start - elapsed)))
    typer.echo(f"sent {sent} messages")


@app.command("month-end")
def month_end(
    period: Annotated[str, typer.Argument(help="the month to settle, YYYY-MM")],
    database_url: DbOption = None,
) -> None:
    """District month end: settle every provider's statement for PERIOD, then close it
    (expire what does not carry over) and allocate the next month's subsidies. Idempotent."""
    import re

    from yiyang.core import audit
    from yiyang.core.db import unit_of_work
    from yiyang.services import settlement
    from yiyang.subsidies import service
    from yiyang.subsidies.eligibility import month_start, period_of

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise typer.BadParameter("use YYYY-MM")
    _engine(database_url)
    following = period_of(month_start(period) + dt.timedelta(days=32))
    with audit.acting_as(audit.AuditActor(None, "month-end")), unit_of_work() as session:
        statements = settlement.settle(session, period)
        run = service.open_month(session, following)
    typer.echo(f"{period}: {len(statements)} provider statements")
    typer.echo(f"{following}: {run.allocations} allocations, {run.expiries} expiries")


@app.command("mqtt-auth")
def mqtt_auth(
    password_file: Annotated[Path, typer.Option(help="Mosquitto password_file to write")],
    acl_file: Annotated[Path, typer.Option(help="Mosquitto acl_file to write")],
    platform_user: Annotated[str, typer.Option(help="the platform's own MQTT user")] = "yiyang",
    platform_password: Annotated[
        str | None,
        typer.Option(envvar="YIYANG_MQTT_PASSWORD", help="its password (default: from the URL)"),
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Write Mosquitto's password and ACL files from the registry: every device with an issued
    MQTT password (username = serial), every vendor gateway with one (username = vendor code),
    and the platform's user. Reload Mosquitto afterwards (SIGHUP)."""
    from urllib.parse import unquote, urlparse

    from yiyang.core.config import get_settings
    from yiyang.core.db import unit_of_work
    from yiyang.devices import credentials, service

    if platform_password is None:
        parsed = urlparse(get_settings().mqtt_url)
        platform_password = unquote(parsed.password) if parsed.password else None
    if not platform_password:
        raise typer.BadParameter("give --platform-password (or a password in YIYANG_MQTT_URL)")
    _engine(database_url)
    with unit_of_work() as session:
        devices, vendors = service.broker_users(session)
    entries = [(platform_user, credentials.mosquitto_hash(platform_password)), *devices, *vendors]
    password_file.write_text(credentials.password_file(entries))
    password_file.chmod(0o600)
    acl_file.write_text(credentials.acl_file(platform_user))
    typer.echo(f"{len(devices)} devices, {len(vendors)} vendor gateways, 1 platform user")


@app.command("mqtt-password")
def mqtt_password(
    vendor: Annotated[str, typer.Option(help="the vendor gateway's code")],
    database_url: DbOption = None,
) -> None:
    """Issue a vendor gateway a new MQTT password (printed once; only its hash is kept).
    Devices get theirs from the API: POST /api/devices/{id}/mqtt-password."""
    from sqlalchemy import select

    from yiyang.core import audit
    from yiyang.core.db import unit_of_work
    from yiyang.devices import credentials
    from yiyang.devices.models import Vendor

    _engine(database_url)
    password = credentials.new_password()
    with audit.acting_as(audit.AuditActor(None, "mqtt-password")), unit_of_work() as session:
        row = session.scalar(select(Vendor).where(Vendor.code == vendor))
        if row is None:
            raise typer.BadParameter(f"no vendor {vendor!r}")
        row.mqtt_password_hash = credentials.mosquitto_hash(password)
    typer.echo(f"username: {vendor}\npassword: {password}")


@app.command()
def replay(
    events: Annotated[Path, typer.Argument(help="CSV with the header ts,sensor,kind,value")],
    until: Annotated[
        str | None, typer.Option(help="Run simulated time to this ISO time (default: last event)")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Time zone of times without an offset, and of the rules")
    ] = "Asia/Shanghai",
    facts: Annotated[
        str,
        typer.Option(
            help="The elder's facts, comma-separated: living_alone,dementia (no_monitoring: "
            "the health-monitoring consent withdrawn)"
        ),
    ] = "",
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per alarm or check-in task")
    ] = False,
) -> None:
    """Replay a recorded home through the production alarm rules in simulated time (no
    database): the alarms and check-in tasks they would have raised."""
    import json
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from yiyang.alarms import replay as replaying
    from yiyang.core.i18n import gettext as _

    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        typer.echo(_("Unknown time zone: %(zone)s", zone=timezone), err=True)
        raise typer.Exit(2) from None
    try:
        rows = replaying.read_file(events, tz)
        end = replaying.parse_time(until, tz) if until else None
        raised = replaying.replay(
            rows, tz=tz, until=end, facts=replaying.make_facts(facts.split(","))
        )
    except OSError as exc:
        typer.echo(f"{events}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except replaying.ReplayError as exc:
        typer.echo(f"{events}: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # --until
        typer.echo(_("--until: %(error)s", error=str(exc)), err=True)
        raise typer.Exit(2) from None
    if json_lines:
        for r in raised:
            typer.echo(json.dumps(r.as_json(tz), ensure_ascii=False))
        return
    for r in raised:
        at = r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{at}  {r.response:<8}  {r.severity:<8}  {r.rule:<16}  {r.reason}")
    alarms = sum(1 for r in raised if r.response == "alarm")
    typer.echo(
        _(
            "%(events)d events replayed: %(alarms)d alarms, %(check_ins)d check-in tasks",
            events=len(rows),
            alarms=alarms,
            check_ins=len(raised) - alarms,
        )
    )
