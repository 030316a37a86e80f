"""What /healthz checks: whether the gateway would notice, and pass on, a call for help.

Each problem is one line. None means healthy. The checks are real rather than
assumed: a tiny write to the database, the timer loop's heartbeat, each platform's
last successful poll or sync, and the age of the oldest alert still waiting to go out.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters.base import ReceiveHealth, SendHealth
from core.commands import Priority
from gateway.engine import Engine

# A long poll returns at least every ~25 s and a Matrix sync every ~30 s, even when
# nobody writes: two minutes without one succeeding means receiving has stopped.
RECEIVE_STALE_AFTER = 120.0
# An alert should leave within seconds; five minutes waiting means it is stuck.
ALERT_WAIT_LIMIT = timedelta(minutes=5)
# The store check waits behind a running transaction (a round of 100,000 takes ~5 s).
STORE_TIMEOUT = 10.0


async def problems(engine: Engine) -> list[str]:
    found: list[str] = []
    store_ok = await _store_problem(engine, found)
    if not engine.timer_loop_alive():
        found.append("timers: the timer loop is not running")
    for name, adapter in sorted(engine.adapters.items()):
        # Another instance serves it (shared database): its health is that one's.
        if name in engine.standby:
            continue
        if isinstance(adapter, ReceiveHealth):
            problem = adapter.receive_problem(RECEIVE_STALE_AFTER)
            if problem is not None:
                found.append(f"{name}: {problem}")
        if isinstance(adapter, SendHealth):
            problem = adapter.send_problem()
            if problem is not None:
                found.append(f"{name}: {problem}")
    if store_ok:
        async with engine.store.read() as tx:
            oldest = await tx.oldest_pending(Priority.ALERT)
        if oldest is not None:
            platform, created = oldest
            waited = engine.clock.now() - created
            if waited > ALERT_WAIT_LIMIT:
                found.append(
                    f"outbox: an alert for {platform} has waited "
                    f"{int(waited.total_seconds() // 60)} min to be sent"
                )
    return found


async def _store_problem(engine: Engine, found: list[str]) -> bool:
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel.
        async with asyncio.timeout(STORE_TIMEOUT):
            await engine.store.write_check(engine.clock.now())
    except TimeoutError:
        found.append(f"store: no answer within {STORE_TIMEOUT:g} s")
        return False
    except Exception as exc:
        found.append(f"store: cannot write: {' '.join(str(exc).split()) or type(exc).__name__}")
        return False
    return True
