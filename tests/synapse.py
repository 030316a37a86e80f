"""A real Synapse homeserver for tests, and the pytest fixtures that share it.

One homeserver per test session (≈ 2 s to start): the config is written into a
temporary directory, Synapse runs as a subprocess of the same interpreter on a free
port of 127.0.0.1, and users are registered through the shared-secret admin API.
A second homeserver with Synapse's *default* rate limits is started only by the test
that asks for it (the `retry_after_ms` test).

Synapse missing or not starting skips the Matrix tests on a developer machine, but
fails them on CI (`CI=true`): CI must never go green by skipping.

Only the standard library talks to Synapse here, so `register` and
`override_ratelimit` work from sync fixtures and async tests alike.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SERVER_NAME = "localhost"
START_TIMEOUT = 60.0
PORT_ATTEMPTS = 5

# Functional tests send far faster than a person; only the default-limits server keeps
# Synapse's own limits (rc_message 0.2/s, burst 10).
RELAXED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": {"per_second": 1000, "burst_count": 1000},
    "rc_registration": {"per_second": 1000, "burst_count": 1000},
    "rc_login": {
        "address": {"per_second": 1000, "burst_count": 1000},
        "account": {"per_second": 1000, "burst_count": 1000},
        "failed_attempts": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_joins": {
        "local": {"per_second": 1000, "burst_count": 1000},
        "remote": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_joins_per_room": {"per_second": 1000, "burst_count": 1000},
    "rc_invites": {
        "per_room": {"per_second": 1000, "burst_count": 1000},
        "per_user": {"per_second": 1000, "burst_count": 1000},
        "per_issuer": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_room_creation": {"per_second": 1000, "burst_count": 1000},
}

LOG_CONFIG = """\
version: 1
formatters:
  precise: {{format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}
handlers:
  file: {{class: logging.FileHandler, formatter: precise, filename: '{path}'}}
root: {{level: WARNING, handlers: [file]}}
disable_existing_loggers: false
"""


class SynapseUnavailable(Exception):
    """Synapse is not installed or did not come up."""


@dataclass
class Homeserver:
    """A running Synapse: its base URL and what it takes to manage users on it."""

    url: str
    directory: Path
    shared_secret: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    server_name: str = SERVER_NAME

    def register(self, username: str, password: str, admin: bool = False) -> tuple[str, str, str]:
        """Create a user; return (user_id, access_token, device_id)."""
        path = "/_synapse/admin/v1/register"
        nonce = self._request("GET", path)["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        role = b"admin" if admin else b"notadmin"
        mac.update(b"\0".join([nonce.encode(), username.encode(), password.encode(), role]))
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        answer = self._request("POST", path, body)
        return answer["user_id"], answer["access_token"], answer["device_id"]

    def override_ratelimit(
        self, admin_token: str, user_id: str, messages_per_second: int = 0, burst_count: int = 0
    ) -> None:
        """Lift (0/0) or set a user's message rate limit, as an operator would for a bot."""
        quoted = urllib.parse.quote(user_id, safe="")
        self._request(
            "POST",
            f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
            {"messages_per_second": messages_per_second, "burst_count": burst_count},
            token=admin_token,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = ""
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None
        return answer


def start_synapse(
    directory: Path, *, relaxed_rate_limits: bool = True, timeout: float = START_TIMEOUT
) -> Homeserver:
    """Write a config into `directory`, start Synapse and wait until it answers.

    Raises SynapseUnavailable when Synapse is missing or does not come up in time."""
    directory.mkdir(parents=True, exist_ok=True)
    shared_secret = secrets.token_hex(16)
    last_error = ""
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        config = _write_config(directory, port, shared_secret, relaxed_rate_limits)
        output = directory / "synapse.out"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
                # Not the tests directory: tests/synapse.py must not shadow the package.
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        server = Homeserver(f"http://127.0.0.1:{port}", directory, shared_secret, process)
        if _wait_ready(server, timeout):
            return server
        server.stop()
        last_error = _tail(output) + _tail(directory / "homeserver.log")
        if "ListenerException" not in last_error and "Address already in use" not in last_error:
            break  # not a port clash: another port will not help
    raise SynapseUnavailable(f"Synapse did not start: {last_error[-2000:]}")


def _die_with_parent() -> None:
    """A test run killed outright (a CI timeout) must not leave Synapse behind.

    Linux ties this to the starting *thread*: start Synapse from the main thread (as
    pytest fixtures are), not from `asyncio.to_thread`."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _free_port() -> int:
    # The port may be taken again before Synapse binds it; start_synapse retries then.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_config(directory: Path, port: int, shared_secret: str, relaxed: bool) -> Path:
    log_config = directory / "log.yaml"
    log_config.write_text(LOG_CONFIG.format(path=directory / "homeserver.log"))
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(directory / "signing.key"),
        "report_stats": False,
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "bcrypt_rounds": 4,
        "log_config": str(log_config),
    }
    if relaxed:
        config.update(RELAXED_RATE_LIMITS)
    path = directory / "homeserver.yaml"
    # JSON is valid YAML; no YAML writer needed.
    path.write_text(json.dumps(config, indent=2))
    return path


def _wait_ready(server: Homeserver, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(server.url + "/_matrix/client/versions", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def start_or_give_up(directory: Path, *, relaxed_rate_limits: bool = True) -> Homeserver:
    """start_synapse for a fixture: skip without Synapse, but never skip on CI."""
    try:
        return start_synapse(directory, relaxed_rate_limits=relaxed_rate_limits)
    except SynapseUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Synapse is required on CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    """The session's homeserver, with rate limits relaxed for functional tests."""
    server = start_or_give_up(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synapse_server_default_limits(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Homeserver]:
    """A second homeserver keeping Synapse's default rate limits (started on demand)."""
    server = start_or_give_up(
        tmp_path_factory.mktemp("synapse-default-limits"), relaxed_rate_limits=False
    )
    yield server
    server.stop()
