"""`carecheck` on the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from core.config import WorkflowConfig
from core.console import WebRole
from core.ports import Store
from gateway import pings, users_cli
from gateway.command_base import config_or_exit, open_store, settings_or_exit
from gateway.database import create_store, describe
from gateway.platforms import chat_platform_names
from gateway.settings import Settings


def cmd_config_check(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else settings_or_exit().config
    if not path.exists():
        print(f"carecheck: {path}: no such file", file=sys.stderr)
        return 2
    config, source = config_or_exit(path)
    print(
        f"{source}: OK — {len(config.plans)} plan(s), {len(config.escalation_policies)} "
        f"escalation polic{'y' if len(config.escalation_policies) == 1 else 'ies'}, "
        f"{len(config.teams)} team(s)"
    )
    return 0


async def _run(settings: Settings, config: WorkflowConfig, source: str) -> int:
    from gateway.app import Gateway, StartupError
    from gateway.logs import setup_logging
    from gateway.users import exposure_problem

    setup_logging(settings.log_format, settings.log_level)
    try:
        gateway = await Gateway.create(settings, config=config)
    except StartupError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return exc.exit_code
    async with gateway.store.read() as tx:
        operators = await tx.count_web_users(WebRole.OPERATOR.value)
    exposed = exposure_problem(settings.web_host, operators)
    if exposed is not None:
        await gateway.stop()
        print(f"carecheck: {exposed}", file=sys.stderr)
        return 2
    try:
        await gateway.start()
    except StartupError as exc:
        await gateway.stop()
        print(f"carecheck: {exc}", file=sys.stderr)
        return exc.exit_code
    except BaseException:
        # Stopped, the store included: its thread would otherwise keep the process
        # alive after the traceback.
        await gateway.stop()
        raise
    platforms = ", ".join(sorted(chat_platform_names(gateway.engine.adapters))) or "none"
    print(
        f"carecheck is running — workflow: {source}; database: {describe(settings.db)}; "
        f"chat platforms: {platforms}"
    )
    for name, problem in sorted(gateway.waiting_platforms().items()):
        print(f"  {name}: {problem}; retrying in the background (see /healthz)")
    if gateway.seeded:
        print(f"Seeded a demo community of {gateway.seeded} people and opened a check-in round.")
    print(f"  dashboard:  {gateway.url}/")
    if gateway.local is not None:
        print(f"  local chat: {gateway.url}/chat")
    print(f"  health:     {gateway.url}/healthz   metrics: {gateway.url}/metrics")
    if settings.demo_speed != 1:
        print(f"  demo clock: {settings.demo_speed:g}x real time")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        await gateway.serve_forever()
    finally:
        await gateway.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    config, source = config_or_exit(settings.config)  # a bad file stops here, before the database
    return asyncio.run(_run(settings, config, source))


async def _using_store(settings: Settings, work: Callable[[Store], Awaitable[str]]) -> str:
    store = await open_store(settings)
    try:
        return await work(store)
    finally:
        await store.close()


def _write(text: str, output: str | None) -> int:
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_people_import(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.encodings import decode_spreadsheet
    from gateway.people import PeopleFileError, file_problem, import_people
    from gateway.textfiles import TextFileError

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"carecheck: {path}: cannot read: {exc}", file=sys.stderr)
        return 2

    leaderless: list[str] = []
    read_as: list[str] = []

    async def go() -> int:
        try:  # UTF-8 (with or without BOM), or GB18030/GBK: which one is said below
            text, encoding = decode_spreadsheet(data)
        except TextFileError as exc:
            raise PeopleFileError(str(path), [file_problem(exc)]) from None
        read_as.append(encoding)
        store = await open_store(settings)
        try:
            count = await import_people(store, config, text, SystemClock().now(), str(path))
            async with store.read() as tx:
                leaderless.extend(await tx.grids_without_reachable_leader())
            return count
        finally:
            await store.close()

    try:
        count = asyncio.run(go())
    except PeopleFileError as exc:
        print(
            f"carecheck: {path}: nothing imported; {len(exc.problems)} problem(s):", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  {path}:{problem.line}: {problem.message}", file=sys.stderr)
        return 2
    print(f"imported {count} people from {path} (read as {read_as[0]})")
    for grid in leaderless:
        print(
            f"warning: grid {grid or '-'} has no grid leader enrolled on a chat platform: "
            "its alerts go straight to the next step (invite its leader: carecheck people invite)"
        )
    return 0


def cmd_people_export(args: argparse.Namespace) -> int:
    from gateway.people import export_people

    settings = settings_or_exit()
    text = asyncio.run(_using_store(settings, export_people))
    # Excel reads a CSV as the system's code page unless it starts with a UTF-8 mark.
    return _write("\ufeff" + text if args.excel else text, args.output)


def cmd_people_away(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.engine import Engine
    from workflows.timefmt import day_hm

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)
    if bool(args.until) == bool(args.end):
        print("carecheck: give --until DATE (away until then) or --end (back now)", file=sys.stderr)
        return 2

    async def go() -> str:
        store = await open_store(settings)
        try:
            engine = Engine(store, SystemClock(), config, {})
            await engine.prepare()
            if args.end:
                if await engine.end_away(args.name):
                    return f"{args.name} is back; the running gateway tells who needs to know"
                return f"{args.name} was not away: nothing to do"
            async with store.read() as tx:
                person = await tx.person_by_name(args.name)
            absence = await engine.set_away(args.name, args.until, args.reason or "")
            timezone = person.timezone if person is not None else config.timezone
            return (
                f"{args.name} is away until {day_hm(absence.until, timezone)} "
                f"({absence.until.astimezone().isoformat(timespec='minutes')}); "
                "the running gateway tells who needs to know"
            )
        finally:
            await store.close()

    try:
        print(asyncio.run(go()))
    except ValueError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_people_back(args: argparse.Namespace) -> int:
    args.until, args.end, args.reason = None, True, None
    return cmd_people_away(args)


def cmd_people_invite(args: argparse.Namespace) -> int:
    from adapters.base import AdapterStartError, Inviter
    from gateway.clock import SystemClock
    from gateway.invites import Invitation, NoQrTarget, UnknownPerson, create_invitation, qr_card
    from gateway.platforms import PLATFORMS
    from workflows.texts import Texts

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)
    if args.sheet:
        return _invitation_sheet(args, settings, config)
    texts = Texts({lang.value: t for lang, t in config.templates.items()})

    def render(key: str, /, **values: object) -> str:
        return texts.render("en", key, **values)

    async def go() -> tuple[str, list[Inviter]]:
        # The platforms first: one that cannot be asked (Telegram's getMe) spends no code.
        inviters = [await platform.inviter(settings, render) for platform in PLATFORMS]
        store = await open_store(settings)
        try:
            code = await create_invitation(store, SystemClock(), config, args.name, team=args.team)
        finally:
            await store.close()
        return code, inviters

    try:
        code, inviters = asyncio.run(go())
    except UnknownPerson as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    except AdapterStartError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 1
    team = bool(args.team)
    print(
        f"invitation code for {args.team or args.name}: {code}  "
        f"(one use, valid {config.invite_ttl.days} days)"
    )
    for inviter in inviters:
        for line in inviter.lines(code, team=team):
            print(f"  {line}")
    if args.qr:
        targets = [t for i in inviters if (t := i.qr_target(code, team=team)) is not None]
        card = [line for i in inviters for line in i.card_lines(code)]
        invitation = Invitation(
            args.team or args.name, code, next(iter(targets), None), tuple(card)
        )
        try:
            qr_card(invitation, Path(args.qr), texts, "zh")
        except NoQrTarget as exc:
            print(f"carecheck: {args.qr}: not written: {exc}", file=sys.stderr)
            return 1
        if targets:
            print(f"  QR card: {args.qr}")
        else:
            print(
                f"  QR card: {args.qr} (the code only: no chat platform here gives a link to scan)"
            )
    return 0


def _invitation_sheet(args: argparse.Namespace, settings: Settings, config: WorkflowConfig) -> int:
    """`people invite --grid G --sheet FILE.html` (gateway/web/sheets.py)."""
    from adapters.base import AdapterStartError
    from gateway.clock import SystemClock
    from gateway.engine import Engine
    from gateway.web.sheets import write_sheet

    if not args.grid or args.name or args.team:
        print("carecheck: --sheet goes with --grid (and no name or --team)", file=sys.stderr)
        return 2

    async def go() -> tuple[str, int]:
        store = await open_store(settings)
        try:
            if args.grid not in await _grids(store):
                raise ValueError(f"no people in grid {args.grid!r}")
            engine = Engine(store, SystemClock(), config, {})
            await engine.prepare()
            return await write_sheet(engine, settings, args.grid)
        finally:
            await store.close()

    try:
        html, count = asyncio.run(go())
    except ValueError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    except AdapterStartError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 1
    Path(args.sheet).write_text(html, encoding="utf-8")
    print(f"wrote {count} invitation card(s) for grid {args.grid} to {args.sheet}")
    return 0


def cmd_people_export_data(args: argparse.Namespace) -> int:
    from gateway.privacy_cli import UnknownPerson, person_data, write_private_json

    settings = settings_or_exit()

    async def run() -> dict[str, object]:
        store = await open_store(settings)
        try:
            return await person_data(store, args.name)
        finally:
            await store.close()

    try:
        data = asyncio.run(run())
    except UnknownPerson as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    write_private_json(data, Path(args.output))
    counts = ", ".join(
        f"{len(v)} {k}" for k, v in data.items() if isinstance(v, list) and k != "profile"
    )
    print(f"wrote everything held about {args.name} to {args.output} (mode 0600): {counts}")
    return 0


def cmd_people_forget(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.engine import Engine
    from gateway.privacy_cli import UnknownPerson, forget

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)

    async def go() -> tuple[int | None, dict[str, int]]:
        store = await open_store(settings)
        try:
            engine = Engine(store, SystemClock(), config, {})
            await engine.prepare()
            result = await forget(engine, args.name, "operator (carecheck people forget)")
            return result.open_alert, result.erased
        finally:
            await store.close()

    try:
        open_alert, erased = asyncio.run(go())
    except UnknownPerson as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    if open_alert is not None:
        print(
            f"carecheck: {args.name} has an open alert (#{open_alert}): nothing erased; "
            "close the alert first, then run this again",
            file=sys.stderr,
        )
        return 2
    done = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in erased.items())
    print(
        f"erased {args.name}'s personal data and messages ({done}); anonymous counts are kept; "
        "the running gateway tells their grid leader within 30 s"
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from gateway.privacy_cli import UnknownPerson, render_reveals, reveals

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)

    async def go(store: Store) -> str:
        return render_reveals(args.person, await reveals(store, args.person), config.timezone)

    try:
        print(asyncio.run(_using_store(settings, go)))
    except UnknownPerson as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_needs_export(args: argparse.Namespace) -> int:
    from gateway.needs_table import export_needs

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)

    async def export(store: Store) -> str:
        return await export_needs(store, config.timezone)

    return _write(asyncio.run(_using_store(settings, export)), args.output)


def cmd_status(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.status import render_table, today

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)

    async def go() -> str:
        store = await open_store(settings)
        try:
            status = await today(store, SystemClock().now(), config.timezone, config)
        finally:
            await store.close()
        if args.json:
            from dataclasses import asdict

            return json.dumps(asdict(status), ensure_ascii=False, indent=2)
        return render_table(status)

    print(asyncio.run(go()))
    return 0


def cmd_round_start(args: argparse.Namespace) -> int:
    from gateway.clock import SystemClock
    from gateway.engine import Engine
    from workflows.timefmt import day_hm

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)
    plan = args.plan or config.plan_name_default
    if plan not in config.plans:
        known = ", ".join(sorted(config.plans))
        print(f"carecheck: no plan {plan!r} in the workflow file (plans: {known})", file=sys.stderr)
        return 2

    async def go() -> list[tuple[str, datetime]]:
        store = await open_store(settings)
        try:
            if args.grid and args.grid not in await _grids(store):
                raise ValueError(f"no residents in grid {args.grid!r}")
            engine = Engine(store, SystemClock(), config, {})
            await engine.prepare()
            return await engine.queue_round(plan, grid=args.grid or "", emergency=args.now)
        finally:
            await store.close()

    try:
        queued = asyncio.run(go())
    except ValueError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    if not queued:
        print(f"no residents on plan {plan!r}: nothing to start")
        return 0
    now = SystemClock().now()
    label = "urgent round" if args.now else "round"
    for timezone, when in queued:
        if when > now:
            print(
                f"{label} for plan {plan} ({timezone}) waits for the end of quiet hours: "
                f"{day_hm(when, timezone)} (use --now for an emergency round)"
            )
        else:
            print(f"{label} for plan {plan} ({timezone}) queued now")
    print(
        "the running gateway opens it at once on PostgreSQL, within 30 s on SQLite; "
        "residents already asked in this round are skipped (see `carecheck status`)"
    )
    return 0


async def _grids(store: Store) -> set[str]:
    async with store.read() as tx:
        return set(await tx.grids())


def cmd_db_copy(args: argparse.Namespace) -> int:
    from core.ports import StoreOpenError
    from gateway.database import describe
    from store.copy import CopyError, copy_database

    async def go() -> dict[str, int]:
        source, target = create_store(args.source), create_store(args.target)
        await source.open()
        try:
            await target.open()
            try:
                return await copy_database(source, target)  # type: ignore[arg-type]
            finally:
                await target.close()
        finally:
            await source.close()

    try:
        counts = asyncio.run(go())
    except (CopyError, StoreOpenError) as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        return 2
    width = max((len(t) for t in counts), default=0)
    for table, rows in counts.items():
        print(f"  {table:<{width}}  {rows:>10,}")
    print(
        f"copied {sum(counts.values()):,} rows in {len(counts)} tables from "
        f"{describe(args.source)} to {describe(args.target)}; every table's count checked"
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.simulate import SimulationParams, render_report, simulate

    settings = settings_or_exit()
    config, _ = config_or_exit(settings.config)
    params = SimulationParams(
        residents=args.residents,
        days=args.days,
        answer_rate=args.answer_rate,
        seed=args.seed,
        answer_delay_minutes=args.answer_delay,
        ack_delay_minutes=args.ack_delay,
        ack_rate=args.ack_rate,
        residents_per_grid=args.per_grid,
        phone_share=args.phone_share,
        away_rate=args.away_rate,
    )
    if (
        params.residents < 1
        or params.days < 1
        or not 0 <= params.answer_rate <= 1
        or not 0 <= params.phone_share <= 1
        or not 0 <= params.away_rate <= 1
    ):
        print(
            "carecheck: --residents and --days must be ≥ 1; --answer-rate, --phone-share "
            "and --away-rate in 0..1",
            file=sys.stderr,
        )
        return 2
    report = asyncio.run(simulate(config, params, progress=not args.json))
    print(json.dumps(report, indent=2) if args.json else render_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carecheck", description="Daily care check-ins over chat, with escalation."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser(
        "run", help="run the gateway (all configured chat platforms + web)"
    ).set_defaults(func=cmd_run)

    config = sub.add_parser("config", help="the workflow file").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser("check", help="validate a workflow file")
    check.add_argument("file", nargs="?", help="default: CARECHECK_CONFIG")
    check.set_defaults(func=cmd_config_check)

    people = sub.add_parser("people", help="people and invitations").add_subparsers(
        dest="people_command", required=True
    )
    imp = people.add_parser("import", help="import people from CSV (all rows or none)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_people_import)
    exp = people.add_parser("export", help="export people as CSV")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.add_argument(
        "--excel", action="store_true", help="start with a UTF-8 mark, so Excel reads Chinese"
    )
    exp.set_defaults(func=cmd_people_export)
    away = people.add_parser(
        "away", help="a person is away (hospital, travel): check-ins pause, or a deputy covers"
    )
    away.add_argument("name")
    away.add_argument(
        "--until", help="5d, 12h, a date (2026-12-10: back that day) or date and time"
    )
    away.add_argument("--reason", help="shown to the grid leader (住院, 探亲 …)")
    away.add_argument("--end", action="store_true", help="back now (the same as `people back`)")
    away.set_defaults(func=cmd_people_away)
    back = people.add_parser("back", help="a person away is back now")
    back.add_argument("name")
    back.set_defaults(func=cmd_people_back)
    inv = people.add_parser("invite", help="a one-time code and links to enroll a person")
    inv.add_argument("name", nargs="?", default="", help="the person's name")
    inv.add_argument("--team", help="invite a team's group chat instead of a person")
    inv.add_argument("--qr", help="write a printable card: FILE.svg (with name) or FILE.png")
    inv.add_argument("--grid", help="with --sheet: everyone of this grid")
    inv.add_argument("--sheet", help="write A4 pages of A6 cards (new codes): FILE.html")
    inv.set_defaults(func=cmd_people_invite)
    pings.register(people)

    export_data = people.add_parser(
        "export-data", help="everything held about one person, as JSON (written mode 0600)"
    )
    export_data.add_argument("name")
    export_data.add_argument("-o", "--output", required=True, help="FILE.json to write")
    export_data.set_defaults(func=cmd_people_export_data)
    forget = people.add_parser(
        "forget",
        help="erase a person's personal data and messages (refused while an alert is open)",
    )
    forget.add_argument("name")
    forget.set_defaults(func=cmd_people_forget)

    audit = sub.add_parser("audit", help="who was shown a person's address and phone")
    audit.add_argument("--person", required=True, help="the person's name")
    audit.set_defaults(func=cmd_audit)

    sim = sub.add_parser("simulate", help="run the real workflows on a virtual clock")
    sim.add_argument("--residents", type=int, default=1000)
    sim.add_argument("--days", type=int, default=7)
    sim.add_argument("--answer-rate", type=float, default=0.9)
    sim.add_argument(
        "--answer-delay", type=float, default=15.0, help="mean minutes a resident takes to answer"
    )
    sim.add_argument(
        "--ack-rate", type=float, default=0.7, help="chance a notified responder acknowledges"
    )
    sim.add_argument(
        "--ack-delay",
        type=float,
        default=12.0,
        help="mean minutes a responder takes to acknowledge",
    )
    sim.add_argument("--per-grid", type=int, default=40, help="residents per grid")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument(
        "--phone-share",
        type=float,
        default=0.0,
        help="share of residents without a chat app, phoned by their grid's caller",
    )
    sim.add_argument(
        "--away-rate",
        type=float,
        default=0.0,
        help="chance a resident goes away (1-5 days) on a given day",
    )
    sim.add_argument("--json", action="store_true", help="machine-readable report")
    sim.set_defaults(func=cmd_simulate)

    needs = sub.add_parser("needs", help="needs routed to teams").add_subparsers(
        dest="needs_command", required=True
    )
    needs_export = needs.add_parser("export", help="the needs table as CSV")
    needs_export.add_argument("-o", "--output", help="file to write (default: standard output)")
    needs_export.set_defaults(func=cmd_needs_export)

    rounds = sub.add_parser("round", help="check-in rounds").add_subparsers(
        dest="round_command", required=True
    )
    round_start = rounds.add_parser(
        "start", help="start a round by hand (skips residents already asked in this round)"
    )
    round_start.add_argument("--plan", help="default: the workflow file's default plan")
    round_start.add_argument("--grid", help="only this grid")
    round_start.add_argument(
        "--now",
        action="store_true",
        help="an emergency round: send even inside quiet hours, labelled as urgent",
    )
    round_start.set_defaults(func=cmd_round_start)

    users_cli.register(sub)

    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db_copy = db.add_parser(
        "copy",
        help="copy a whole database into an empty one (SQLite ↔ PostgreSQL), checked by counts",
    )
    db_copy.add_argument("source", help="a SQLite file or a postgresql:// URL")
    db_copy.add_argument("target", help="an empty database: a SQLite file or a postgresql:// URL")
    db_copy.set_defaults(func=cmd_db_copy)

    status = sub.add_parser("status", help="today's check-ins per grid")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (
        args.command == "people"
        and args.people_command == "invite"
        and not (args.name or args.team or args.grid)
    ):
        print("carecheck: name a person, or give --team, or --grid with --sheet", file=sys.stderr)
        return 2
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
