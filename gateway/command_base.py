"""What every `carecheck` command starts with: its settings, its workflow file and its
store, each or a clear one-line error and exit status 2."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import ValidationError

from core.config import WorkflowConfig
from core.ports import Store
from gateway.config import ConfigError, load_config
from gateway.database import create_store
from gateway.settings import Settings


def settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Name the setting, never echo its value (it may be a secret).
        problems = "; ".join(
            f"CARECHECK_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise SystemExit(f"carecheck: bad setting: {problems}") from None


def config_or_exit(path: Path) -> tuple[WorkflowConfig, str]:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"carecheck: the workflow file has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None


async def open_store(settings: Settings) -> Store:
    from core.ports import StoreOpenError

    store = create_store(settings.db)
    try:
        await store.open()
    except StoreOpenError as exc:
        print(f"carecheck: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return store
