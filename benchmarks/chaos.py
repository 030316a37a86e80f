"""Chaos: the real gateway, killed again and again, while Telegram fails a fifth of its
calls — and then, resident by resident, what happened against what should have.

    .venv/bin/python benchmarks/chaos.py                            # 1,000 residents, 50 kills
    .venv/bin/python benchmarks/chaos.py --residents 100 --kills 3  # about two minutes
    .venv/bin/python benchmarks/chaos.py --matrix 20                # 20 residents on Synapse too

`carecheck run` runs as a subprocess of this script, configured only by CARECHECK_*
variables, against the Bot API test server (`tests/telegram_server.py`) in this process.
People are imported with `carecheck people import`, each bound to a Telegram chat; the
workflow file is written here with a short rhythm (a round every `--period` minutes, the
reply window 40 % of it, a reminder at 20 %, escalation steps of 8 % each: grid leader,
care lead, family), on the real clock — a speeded clock (CARECHECK_DEMO_SPEED) starts
again from the wall clock at each start, so it cannot survive a kill.

Each resident's behaviour per round is drawn from `--seed`: answers in time (✅, text, a
voice note or sticker), stays silent, asks for help ("救命，我摔倒了" or 🆘), or answers
after the window closed (the alert must be called off). Grid leaders and care leads
acknowledge and resolve some alerts with the buttons; just before the next round (and
once more when the last has settled) whatever is still open is closed with
`/resolve N ok`, as an operator would.

Meanwhile the gateway is SIGKILLed `--kills` times — at random moments and at busy ones:
while a round's prompts go out, just after answers arrive, at reminders, as windows close,
as late answers call alerts off, at escalation steps — and started again each time;
`PRAGMA integrity_check` runs on the database after every kill. `--fault-rate` of the
server's calls fail: HTTP 500, a connection reset, 429 with retry_after, and "response
lost after acceptance" (the message is sent, the connection drops before the answer).

At the end the gateway is stopped and the check (`chaos_check.py`) compares, resident by
resident and round by round, the server's record of every message and edit and the
database (read-only) with what should have happened; it prints a table and exits 1 on
any loss or missed target. `--keep DIR` keeps the database, the logs and a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import pickle
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the test servers live in tests/
    sys.path.insert(0, str(ROOT))

from benchmarks.chaos_check import Report, check  # noqa: E402
from benchmarks.chaos_play import (  # noqa: E402
    TICK,
    GatewayProcess,
    Killer,
    Observer,
    Players,
    log,
    read_db,
)
from benchmarks.chaos_record import (  # noqa: E402
    BUTTON,
    CARE_LEAD,
    GRID_LEADER,
    HELP,
    HELP_BUTTON,
    HELP_TEXT,
    IN_TIME,
    LATE,
    LATE_BUTTON,
    LATE_TEXT,
    MEDIA,
    SILENT,
    TEXT,
    Behaviour,
    Resident,
    Responder,
    RunRecord,
    Timing,
)
from benchmarks.chaos_texts import Classifier  # noqa: E402
from tests.telegram_server import Fault, TelegramTestServer  # noqa: E402

RESIDENT_BASE = 710_000_000
LEADER_BASE = 610_000_000
CARE_BASE = 620_000_000
FAMILY_BASE = 630_000_000
PLAN = "chaos"
TIMEZONE = "Asia/Shanghai"
HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of"

# What residents do, by weight.
MIX = (
    (BUTTON, 0.50),
    (TEXT, 0.18),
    (MEDIA, 0.08),
    (SILENT, 0.08),
    (HELP_TEXT, 0.02),
    (HELP_BUTTON, 0.02),
    (LATE_BUTTON, 0.06),
    (LATE_TEXT, 0.06),
)
# The platform's faults, by weight, when a call is picked to fail.
FAULTS = {
    Fault.SERVER_ERROR: 0.35,
    Fault.CONNECTION_RESET: 0.25,
    Fault.RESPONSE_LOST: 0.25,
    # Each one pauses every send of the bot for retry_after (1 s): fewer of these.
    Fault.RETRY_AFTER: 0.15,
}
# The calls a gateway makes once when it starts: see `--fault-startup`.
STARTUP_METHODS = frozenset({"getme", "deletewebhook", "setwebhook"})


# --- the population and the workflow file ----------------------------------------


def population(
    residents: int, per_grid: int, family_share: float, seed: int, matrix_ids: list[str]
) -> tuple[list[Resident], list[Responder]]:
    rng = random.Random(f"{seed}/people")
    grids = max(1, math.ceil(residents / per_grid))
    responders = [
        Responder(f"网格长{g:02d}", LEADER_BASE + g, GRID_LEADER, g) for g in range(grids)
    ] + [Responder(f"关爱组{g:02d}", CARE_BASE + g, CARE_LEAD, g) for g in range(grids)]
    people = []
    for i in range(residents):
        family = rng.random() < family_share
        matrix_id = matrix_ids[i] if i < len(matrix_ids) else None
        people.append(
            Resident(
                index=i,
                name=f"R{i:05d}",
                chat=RESIDENT_BASE + i,
                grid=i // per_grid,
                family_name=f"F{i:05d}" if family else None,
                family_chat=FAMILY_BASE + i if family else None,
                matrix_id=matrix_id,
            )
        )
    return people, responders


def people_csv(residents: list[Resident], responders: list[Responder]) -> str:
    lines = [HEADER]
    for r in responders:
        lines.append(f"{r.name},{r.role},G{r.grid:02d},,zh,,1380{r.chat % 10**7:07d},,,{r.chat},,")
    for p in residents:
        # A Matrix resident is reached on Matrix only: the check reads their room.
        telegram = "" if p.matrix_id else str(p.chat)
        lines.append(
            f"{p.name},resident,G{p.grid:02d},B{p.index % 7},zh,,139{p.index:08d},"
            f"B{p.index % 7}-{p.index},{PLAN},{telegram},{p.matrix_id or ''},"
        )
        if p.family_name is not None:
            lines.append(
                f"{p.family_name},family,,,zh,,137{p.index:08d},,,{p.family_chat},,{p.name}"
            )
    return "\n".join(lines) + "\n"


def schedule(round_times: list[float]) -> str:
    """A cron expression that fires at the planned rounds and at no other time while
    the run lasts: the rounds' minutes and hours, listed (in the residents' timezone).
    Minute and hour lists combine, but within less than an hour of rounds no other
    combination falls inside the run."""
    if round_times[-1] - round_times[0] >= 3600 - 60:
        raise SystemExit("the rounds must fit in one hour: fewer --rounds or a shorter --period")
    zone = ZoneInfo(TIMEZONE)
    local = [datetime.fromtimestamp(t, zone) for t in round_times]
    minutes = ",".join(str(m) for m in sorted({t.minute for t in local}))
    hours = ",".join(str(h) for h in sorted({t.hour for t in local}))
    return f"{minutes} {hours} * * *"


def next_fire(cron: str, after: float) -> float:
    """When the schedule fires next after `after` (the round nobody planned)."""
    trigger = CronTrigger.from_crontab(cron, timezone=TIMEZONE)
    start = datetime.fromtimestamp(after + 1, ZoneInfo(TIMEZONE))
    fire = trigger.get_next_fire_time(None, start)
    return fire.timestamp() if fire is not None else math.inf


def workflow_yaml(timing: Timing, round_times: list[float]) -> str:
    minutes = timing.period // 60
    return f"""\
# Written by benchmarks/chaos.py: a round every {minutes} min, short windows and steps.
timezone: {TIMEZONE}
default_plan: {PLAN}
plans:
  {PLAN}:
    schedule: "{schedule(round_times)}"
    reply_window: {timing.window}s
    reminders: [{timing.reminder}s]
    escalation: {PLAN}
escalation_policies:
  {PLAN}:
    steps:
      - {{notify: grid_leader, wait: {timing.step}s}}
      - {{notify: care_lead, wait: {timing.step}s}}
      - {{notify: family, wait: {timing.step}s}}
"""


def behaviour(seed: int, round_: int, resident: int, timing: Timing) -> Behaviour:
    rng = random.Random(f"{seed}/{round_}/{resident}")
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    if kind in LATE:
        delay = rng.uniform(0.3, 2.5) * timing.step
    elif kind in IN_TIME:
        delay = rng.uniform(1.0, timing.window - timing.margin)
    else:
        delay = 0.0
    ack_by = None
    if kind == SILENT or kind in HELP:
        ack_by = rng.choices([GRID_LEADER, CARE_LEAD, None], weights=[0.45, 0.3, 0.25])[0]
    return Behaviour(
        kind=kind,
        delay=delay,
        ack_by=ack_by,
        resolve=rng.random() < 0.75,
        outcome=rng.choice(["ok", "visited"]),
    )


def next_round_at(now: float, timing: Timing, lead: float) -> float:
    """The first whole minute at least `lead` seconds away: the first round's time."""
    return math.ceil((now + lead) / 60) * 60.0


def default_period(residents: int) -> int:
    # About six outbound calls per resident per round (prompt, reminder, edits, thanks,
    # button answers, alert copies) at the outbox's 30/s, slowed by the faults: the
    # round must leave room for that and for its alerts to walk their steps.
    seconds = residents * 6 / 25
    for minutes in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30):
        if minutes * 60 * 0.45 >= seconds:
            return minutes
    return 30


# --- the run ---------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    minutes = args.period or default_period(args.residents)
    if 60 % minutes and minutes % 60:
        raise SystemExit("--period must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)")
    timing = Timing.for_period(minutes)
    rounds = args.rounds or max(1, math.ceil(args.kills / 10))
    if args.duration:
        rounds = max(1, min(rounds, int((args.duration - 60) // timing.period)))
    texts = Classifier()
    server = TelegramTestServer(enforce_limits=args.limits)
    await server.start()
    matrix = None
    try:
        matrix_ids: list[str] = []
        if args.matrix:
            from benchmarks.chaos_matrix import MatrixSide

            matrix = MatrixSide(workdir, args.matrix, args.seed)
            matrix_ids = await matrix.start()
        residents, responders = population(
            args.residents, args.per_grid, args.family, args.seed, matrix_ids
        )
        db = workdir / "carecheck.db"
        record = RunRecord(
            db=db,
            seed=args.seed,
            timing=timing,
            residents=residents,
            responders=responders,
            round_times=[],
            behaviours={},
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARECHECK_")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "CARECHECK_DB": str(db),
                "CARECHECK_CONFIG": str(workdir / "carecheck.yaml"),
                "CARECHECK_WEB_HOST": "127.0.0.1",
                "CARECHECK_WEB_PORT": "0",
                "CARECHECK_LOCAL_CHAT": "false",
                "CARECHECK_DEMO_SEED": "false",
                "CARECHECK_TELEGRAM_TOKEN": server.token,
                "CARECHECK_TELEGRAM_API_BASE": server.base_url,
                "CARECHECK_LOG_LEVEL": "INFO",
            }
        )
        if matrix is not None:
            env.update(matrix.env())
        # The rounds: the first a little after the people are in and the gateway is up.
        first = next_round_at(time.time(), timing, lead=args.lead)
        record.round_times = [first + k * timing.period for k in range(rounds)]
        for k in range(rounds):
            for resident in residents:
                record.behaviours[(k, resident.index)] = behaviour(
                    args.seed, k, resident.index, timing
                )
        (workdir / "carecheck.yaml").write_text(workflow_yaml(timing, record.round_times))
        (workdir / "people.csv").write_text(people_csv(residents, responders))
        await import_people(workdir, env)
        log(
            f"{len(residents)} residents, {len(responders)} grid leaders and care leads, "
            f"{sum(1 for r in residents if r.family_name)} family; {rounds} round(s) every "
            f"{minutes} min from {time.strftime('%H:%M:%S', time.localtime(first))}; "
            f"window {timing.window}s, reminder {timing.reminder}s, steps {timing.step}s; "
            f"{args.kills} kills; {args.fault_rate:.0%} of calls fail"
        )
        methods = None
        if not args.fault_startup:
            methods = frozenset(
                m
                for m in (
                    "getupdates",
                    "sendmessage",
                    "editmessagetext",
                    "editmessagereplymarkup",
                    "answercallbackquery",
                    "sendphoto",
                )
            )
        server.fail_at_random(args.fault_rate, dict(FAULTS), seed=args.seed, methods=methods)
        record.started_at = time.time()
        gateway = GatewayProcess(workdir, env, server, record)
        observer = Observer(server, record, texts)
        players = Players(server, record, observer, texts)
        if matrix is not None:
            matrix.attach(record, players)
        try:
            await gateway.start()
            await gateway.wait_ready()
            log(f"the gateway is serving ({server.base_url})")
            killer = Killer(gateway, record, observer, players, args.kills, args.min_gap)
            await drive(args, record, gateway, observer, players, killer, matrix)
        finally:
            record.stop_at = time.time()
            record.stopped_cleanly = await gateway.stop()
            gateway.close()
            observer.scan()
        record.faults = {f.name: n for f, n in server.faults_injected.items()}
        for chat in {s.chat for s in record.sends}:
            record.final[chat] = {
                m.message_id: (m.text, tuple(m.labels)) for m in server.messages(chat)
            }
        if matrix is not None:
            await matrix.collect(record)
        # Everything the check reads, so that `--recheck DIR` can run it again.
        (workdir / "record.pickle").write_bytes(pickle.dumps(record))
        return await asyncio.to_thread(check, record, texts)
    finally:
        await server.close()
        if matrix is not None:
            await matrix.stop()


async def import_people(workdir: Path, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "people",
        "import",
        str(workdir / "people.csv"),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"carecheck people import failed: {out.decode()[-2000:]}")


async def drive(
    args: argparse.Namespace,
    record: RunRecord,
    gateway: GatewayProcess,
    observer: Observer,
    players: Players,
    killer: Killer,
    matrix: Any,
) -> None:
    timing = record.timing
    last = record.round_times[-1]
    hard_stop = record.started_at + args.duration if args.duration else math.inf
    # Time to settle after the last round, but the schedule's next (unplanned) round
    # must not open: stop a little before it.
    unplanned = next_fire(schedule(record.round_times), last)
    end = min(last + timing.period + args.settle, unplanned - 5, hard_stop)
    killing = asyncio.create_task(killer.run())
    sweeps = {k: t + timing.sweep for k, t in enumerate(record.round_times)}
    reported = -1
    quiet_since: float | None = None
    next_probe = next_report = 0.0
    try:
        while time.time() < end:
            observer.scan()
            await players.run_due()
            if matrix is not None:
                await matrix.tick()
            now = time.time()
            for k, at in list(sweeps.items()):
                if now >= at:
                    del sweeps[k]
                    await players.sweep(k)
            k = observer.round_of(now)
            if k >= 0 and k != reported and now >= record.round_times[k]:
                reported = k
                log(f"round {k + 1} of {len(record.round_times)} due")
            if killing.done():
                killing.result()  # raises what went wrong
            if not sweeps and killing.done() and players.idle and now >= next_probe:
                next_probe = now + 2
                left = await asyncio.to_thread(unsettled, record.db)
                if now >= next_report and left:
                    next_report = now + 15
                    log(f"settling: {left}")
                if gateway.ready() and not left:
                    quiet_since = quiet_since or now
                    if now - quiet_since >= 3:
                        # Alerts opened after the last sweep (a late prompt, a restart)
                        # are closed too, and then everything settles once more.
                        if await players.sweep(len(record.round_times) - 1):
                            quiet_since = None
                            continue
                        log("everything settled")
                        return
                else:
                    quiet_since = None
            await asyncio.sleep(TICK)
        log("the run reached its end before everything settled")
        record.notes.append("stopped before everything settled")
    finally:
        if not killing.done():
            killing.cancel()
            record.notes.append(
                f"only {len(record.kills)} of {args.kills} kills happened before the end"
            )
            with contextlib.suppress(asyncio.CancelledError):
                await killing


def unsettled(db: Path) -> str:
    """What is left to do ("" when nothing): deadlines ahead (but standing timers),
    unhandled updates, messages to send."""
    timers, inbox, outbox, wait = read_db(
        db,
        # Standing timers are never done: the next round, the day's summary, the
        # outage guard's look at a round's deliveries a few minutes after it opened,
        # and the daily retention job.
        "SELECT (SELECT count(*) FROM timers "
        "WHERE kind NOT IN ('round', 'summary', 'outage_check', 'retention')), "
        "(SELECT count(*) FROM inbox WHERE handled_at IS NULL), "
        "(SELECT count(*) FROM outbox WHERE state = 'pending'), "
        "(SELECT max(not_before) FROM outbox WHERE state = 'pending')",
    )[0]
    if not (timers or inbox or outbox):
        return ""
    until = f", the last not before {wait - time.time():.0f} s from now" if wait else ""
    return f"{timers} timers, {inbox} updates, {outbox} messages{until}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=0, help="default: one per 10 kills")
    parser.add_argument(
        "--period", type=int, default=0, help="minutes between rounds (default: by residents)"
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="hard limit on the whole run, seconds"
    )
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument(
        "--fault-startup",
        action="store_true",
        help="let getMe and deleteWebhook fail too (the gateway then exits at start)",
    )
    parser.add_argument("--limits", action="store_true", help="the server enforces 30/s, 1/s")
    parser.add_argument("--per-grid", type=int, default=50)
    parser.add_argument("--family", type=float, default=0.5, help="share of residents with family")
    parser.add_argument("--matrix", type=int, default=0, help="residents on Matrix (Synapse)")
    parser.add_argument("--min-gap", type=float, default=2.0, help="seconds up between kills")
    parser.add_argument("--lead", type=float, default=25.0, help="seconds before round 1")
    parser.add_argument(
        "--settle", type=float, default=120.0, help="seconds after the last round to settle"
    )
    parser.add_argument("--keep", type=Path, help="keep the database, logs and summary here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument(
        "--recheck", type=Path, help="only check again the run kept in this directory"
    )
    args = parser.parse_args(argv)
    if args.recheck:
        record = pickle.loads((args.recheck / "record.pickle").read_bytes())
        report = check(record, Classifier())
        print(report.render())
        return 0 if report.passed else 1
    if args.residents < 1 or args.kills < 0:
        parser.error("--residents must be at least 1 and --kills at least 0")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir = args.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="carecheck-chaos-"))
    started = time.monotonic()
    try:
        report = asyncio.run(run(args, workdir))
    except BaseException:
        log(f"the run failed; its files are in {workdir}")
        raise
    report.wall_seconds = time.monotonic() - started
    print(report.render())
    summary = report.summary()
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.keep:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        (workdir / "record.json").write_text(json.dumps(report.record, ensure_ascii=False))
    elif report.passed:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"targets missed; the database and logs are kept in {workdir}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
