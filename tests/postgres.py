"""A throw-away PostgreSQL cluster for tests, and the pytest fixtures that share it.

One cluster per test session (≈ 1 s to create and start), made with Debian's server
binaries in /usr/lib/postgresql/<version>/bin (not on PATH) in a fresh temporary
directory, listening on a free port of 127.0.0.1 only, trust authentication, and run
without fsync: nothing in it has to survive the session. Each test gets a database of
its own, created empty and dropped afterwards.

As root the server runs as the `postgres` user (it refuses to run as root), in a
directory that user owns. Missing binaries skip the PostgreSQL tests on a developer
machine, but fail them on CI (`CI=true`): CI must never go green by skipping.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT = 60.0
PORT_ATTEMPTS = 5
SUPERUSER = "postgres"

# A test cluster trades durability for speed; none of it outlives the session.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "log_min_messages": "warning",
}


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed or did not come up."""


def find_binaries(root: Path) -> Path | None:
    """The bin directory of the newest installed server version, if any."""
    found: list[tuple[int, Path]] = []
    for candidate in root.glob("*/bin"):
        version = candidate.parent.name
        if version.isdigit() and all(
            (candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")
        ):
            found.append((int(version), candidate))
    return max(found)[1] if found else None


@dataclass
class Cluster:
    """A running PostgreSQL server: where it listens and how to stop it."""

    directory: Path
    port: int
    bin: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    user: str | None = None
    version: int = 0
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        # FILE_COPY (PostgreSQL 15+) copies the template's files: about 40 ms, against
        # 70 ms or more for the default, which writes every page through the WAL.
        strategy = " STRATEGY FILE_COPY" if self.version >= 15 else ""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0{strategy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        # FORCE: a store a failing test left open must not keep its database alive.
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql (from sync fixtures and async tests alike)."""
        answer = _run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                statement,
            ],
            self.user,
            self.directory,
            check=False,
        )
        if answer.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {answer.stdout.strip()}")
        return answer.stdout.strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            _run(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ],
                self.user,
                self.directory,
                check=False,
            )
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


# What a benchmark runs with instead: durable, as in production.
DURABLE_SETTINGS = {
    **SERVER_SETTINGS,
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}


def start_postgres(timeout: float = START_TIMEOUT, *, durable: bool = False) -> Cluster:
    """Create a cluster in a new temporary directory, start it, wait until it answers.
    `durable`: with fsync and synchronous commits (benchmarks), not the tests' settings.

    Raises PostgresUnavailable when the binaries are missing or it does not come up."""
    bin_dir = find_binaries(PG_ROOT)
    if bin_dir is None:
        raise PostgresUnavailable(f"no PostgreSQL server binaries under {PG_ROOT}/*/bin")
    # Not pytest's tmp_path: its parent is private to root, and the server runs as
    # `postgres`, which must be able to reach its own directory.
    directory = Path(tempfile.mkdtemp(prefix="carecheck-pg-"))
    user: str | None = None
    if os.geteuid() == 0:
        user = SUPERUSER
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            raise PostgresUnavailable(f"running as root and there is no {user!r} user") from None
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    try:
        init = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(directory / "data"),
                "--auth=trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user,
            directory,
            check=False,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stdout[-2000:]!r}")
        settings = DURABLE_SETTINGS if durable else SERVER_SETTINGS
        return _start(directory, bin_dir, user, timeout, settings)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _start(
    directory: Path, bin_dir: Path, user: str | None, timeout: float, server: dict[str, str]
) -> Cluster:
    last_error = ""
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        settings = [f"-c{key}={value}" for key, value in server.items()]
        log = directory / "postgres.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(directory / "data"),
                    "-p",
                    str(port),
                    "-k",
                    str(directory),
                    *settings,
                ],
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=user,
                preexec_fn=_die_with_parent,
            )
        cluster = Cluster(directory, port, bin_dir, process, user, int(bin_dir.parent.name))
        if _wait_ready(cluster, timeout):
            return cluster
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        last_error = _tail(log)
        if "could not bind" not in last_error and "already in use" not in last_error:
            break  # not a port clash: another port will not help
    raise PostgresUnavailable(f"PostgreSQL did not start: {last_error[-2000:]}")


def _run(
    argv: list[str], user: str | None, cwd: Path, *, check: bool
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        user=user,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=check,
        timeout=120,
    )


def _die_with_parent() -> None:
    """A test run killed outright must not leave the server behind: SIGQUIT is its
    immediate shutdown. (Python switches user before this runs, so the setting stays;
    Linux ties it to the starting thread: start the cluster from the main thread.)"""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGQUIT)


def _free_port() -> int:
    # The port may be taken again before the server binds it; _start retries then.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(cluster: Cluster, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    ready = cluster.bin / "pg_isready"
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            return False
        answer = subprocess.run(
            [str(ready), "-q", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", SUPERUSER],
            check=False,
            timeout=10,
        )
        if answer.returncode == 0:
            return True
        time.sleep(0.05)
    return False


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def start_or_give_up() -> Cluster:
    """start_postgres for a fixture: skip without PostgreSQL, but never skip on CI."""
    try:
        return start_postgres()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required on CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """The session's PostgreSQL server (started only when a test asks for it)."""
    cluster = start_or_give_up()
    yield cluster
    cluster.stop()


NewDatabase = Callable[[], str]


@pytest.fixture
def postgres_databases(postgres_cluster: Cluster) -> Iterator[NewDatabase]:
    """Make as many empty databases as the test needs; all are dropped afterwards."""
    made: list[str] = []

    def new() -> str:
        url = postgres_cluster.create_database()
        made.append(url)
        return url

    yield new
    for url in made:
        postgres_cluster.drop_database(url)


@pytest.fixture
def postgres_url(postgres_databases: NewDatabase) -> str:
    """The URL of an empty database of this test's own."""
    return postgres_databases()
