"""The console's doors: accounts, logging in and out, sessions, CSRF and Origin
checks, the Host check, throttled logins, login links from the chat, safe defaults
and short 400s for bad requests."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.console import WebRole
from gateway.users import AccountError, disable_user, set_password
from tests.console_harness import PASSWORD, Console, running


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        yield c


async def test_with_no_account_the_console_opens_on_loopback_without_a_login(
    console: Console,
) -> None:
    visitor = console.visitor()
    page = await visitor.get("/")
    assert page.status == 200
    assert "王秀英" in page.text and "Zhao Other" in page.text
    assert visitor.csrf  # forms still carry a token
    # No login for health (503 here: the test drives the engine's loops itself).
    assert (await visitor.get("/healthz")).status in (200, 503)


async def test_with_no_account_the_console_still_refuses_a_post_without_its_token(
    console: Console,
) -> None:
    visitor = console.visitor()
    await visitor.get("/")
    refused = await visitor.post("/rounds", csrf="")
    assert refused.status == 403 and "reload" in refused.text
    elsewhere = await visitor.post("/rounds", origin="http://evil.example")
    assert elsewhere.status == 403 and "another site" in elsewhere.text
    no_origin = await visitor.post("/rounds", origin="")
    assert no_origin.status == 403
    started = await visitor.post("/rounds")
    assert started.status == 303 and started.location.startswith("/?notice=")


async def test_a_page_asked_for_by_another_host_name_is_refused(console: Console) -> None:
    # A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) reads nothing.
    visitor = console.visitor()
    page = await visitor.get("/", Host="attacker.example")
    assert page.status == 400 and "unknown host" in page.text
    assert "王秀英" not in page.text
    assert (await visitor.get("/", Host="localhost")).status == 200


async def test_once_an_account_exists_every_page_needs_a_login_but_health_and_metrics(
    console: Console,
) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    visitor = console.visitor()
    for path in ("/", "/events", "/alerts/1", "/people/1", "/needs", "/week", "/settings"):
        page = await visitor.get(path)
        assert page.status == 303, path
        assert page.location.startswith("/login?next="), path
        assert "王秀英" not in page.text
    # No login for health (503 here: the test drives the engine's loops itself).
    assert (await visitor.get("/healthz")).status in (200, 503)
    assert (await visitor.get("/metrics")).status == 200
    login = await visitor.get("/login")
    assert login.status == 200 and 'name="username"' in login.text
    assert 'name="password"' in login.text
    htmx = await visitor.get("/", **{"HX-Request": "true"})
    assert htmx.status == 401 and htmx.headers["HX-Redirect"] == "/login"


async def test_an_operator_logs_in_with_username_and_password_and_out_again(
    console: Console,
) -> None:
    await console.add_user("Ops", WebRole.OPERATOR)
    visitor = console.visitor()
    await visitor.get("/login?next=/week")
    wrong = await visitor.post("/login", {"username": "ops", "password": "not it at all"})
    assert wrong.status == 401 and "用户名或密码不对" in wrong.text
    answer = await visitor.post(
        "/login", {"username": "OPS", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert answer.status == 303 and answer.location == "/"
    page = await visitor.get("/")
    assert page.status == 200 and "王秀英" in page.text and "ops" in page.text
    out = await visitor.post("/logout")
    assert out.status == 303
    assert (await visitor.get("/")).status == 303


async def test_a_login_starts_a_new_session_so_a_planted_cookie_is_worth_nothing(
    console: Console,
) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    attacker, victim = console.visitor(), console.visitor()
    await attacker.get("/login")
    planted = {c.key: c.value for c in attacker.http.cookie_jar}
    victim.http.cookie_jar.update_cookies(planted)
    await victim.login("ops")
    assert {c.key: c.value for c in victim.http.cookie_jar} != planted
    assert (await attacker.get("/")).status == 303


async def test_five_failed_logins_pause_an_account_for_fifteen_minutes(console: Console) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    visitor = console.visitor()
    await visitor.get("/login")
    for _ in range(5):
        failed = await visitor.post("/login", {"username": "ops", "password": "guess guess"})
        assert failed.status == 401
    # The right password no longer helps, and the page says for how long.
    refused = await visitor.post("/login", {"username": "ops", "password": PASSWORD})
    assert refused.status == 429
    assert "15 分钟后" in refused.text and "08:45" in refused.text
    await console.advance(timedelta(minutes=14))
    assert (await visitor.post("/login", {"username": "ops", "password": PASSWORD})).status == 429
    await console.advance(timedelta(minutes=1))
    assert (await visitor.post("/login", {"username": "ops", "password": PASSWORD})).status == 303


async def test_five_failures_from_one_address_pause_logins_to_every_account(
    console: Console,
) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    visitor = console.visitor()
    await visitor.get("/login")
    for name in ("a1", "a2", "a3", "a4", "a5"):
        await visitor.post("/login", {"username": name, "password": "guess guess"})
    refused = await visitor.post("/login", {"username": "ops", "password": PASSWORD})
    assert refused.status == 429


async def test_a_new_password_or_a_disabled_account_ends_its_sessions(console: Console) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    await console.add_user("lead", WebRole.CARE_LEAD, grids=("G1",))
    one, two = console.visitor(), console.visitor()
    await one.login("ops")
    await two.login("lead")
    await set_password(console.store, console.clock.now(), "ops", "another long password")
    assert (await one.get("/")).status == 303
    assert (await one.login("ops", "another long password")).status == 303
    await disable_user(console.store, console.clock.now(), "lead")
    assert (await two.get("/")).status == 303
    assert (await two.login("lead")).status == 401


async def test_accounts_are_checked_when_they_are_made(console: Console) -> None:
    with pytest.raises(AccountError, match="needs --grid"):
        await console.add_user("gl", WebRole.GRID_LEADER)
    with pytest.raises(AccountError, match="one grid"):
        await console.add_user("gl", WebRole.GRID_LEADER, grids=("G1", "G2"))
    with pytest.raises(AccountError, match="no people in grid 'G9'"):
        await console.add_user("gl", WebRole.GRID_LEADER, grids=("G9",))
    with pytest.raises(AccountError, match="at least 10"):
        await console.add_user("gl", WebRole.OPERATOR, password="short")
    with pytest.raises(AccountError, match="is a resident"):
        await console.add_user("gl", WebRole.OPERATOR, person="王秀英")
    with pytest.raises(AccountError, match="username"):
        await console.add_user("two words", WebRole.OPERATOR)
    # A grid leader's grid comes from the person, when the account is linked to one.
    await console.add_user("li", WebRole.GRID_LEADER, person="李网格")
    async with console.store.read() as tx:
        li = await tx.web_user("li")
    assert li is not None and li.grids == ("G1",)
    # Only a hash is kept, and an argon2id one (argon2-cffi's parameters of the day).
    assert li.password_hash.startswith("$argon2id$") and PASSWORD not in li.password_hash
    with pytest.raises(AccountError, match="already has an account"):
        await console.add_user("li2", WebRole.GRID_LEADER, person="李网格")
    with pytest.raises(AccountError, match="already exists"):
        await console.add_user("LI", WebRole.OPERATOR)


async def test_bad_requests_get_a_short_400_not_a_traceback(console: Console) -> None:
    visitor = console.visitor()
    await visitor.get("/")
    bad_filter = await visitor.get("/?state=nonsense")
    assert bad_filter.status == 400 and "state must be one of" in bad_filter.text
    garbage = await visitor.post(
        "/rounds",
        headers={"Content-Type": "multipart/form-data", "X-CSRF-Token": visitor.csrf},
    )
    assert garbage.status in (400, 403)
    assert "Traceback" not in garbage.text
    lang = await visitor.post("/lang", {"lang": "fr"})
    assert lang.status == 400 and "zh or en" in lang.text


async def test_the_web_command_sends_a_login_link_that_works_once_for_ten_minutes(
    console: Console,
) -> None:
    await console.add_user("li", WebRole.GRID_LEADER, person="李网格")
    await console.say("李网格", "/web")
    leader = await console.person("李网格")
    reply = console.adapter.to(f"test:{leader.id}")[-1].text
    link = re.search(r"(http://\S+/login/link/\S+)", reply)
    assert link is not None, reply
    assert link.group(1).startswith(console.base)
    path = link.group(1)[len(console.base) :]
    visitor = console.visitor()
    # Opening the link (or a chat app's link preview) spends nothing.
    assert (await visitor.get(path)).status == 200
    assert (await visitor.get(path)).status == 200
    used = await visitor.post(path)
    assert used.status == 303
    page = await visitor.get("/")
    assert page.status == 200 and "王秀英" in page.text and "Zhao Other" not in page.text
    again = console.visitor()
    await again.get(path)
    assert (await again.post(path)).status == 410

    await console.say("李网格", "/web")
    reply = console.adapter.to(f"test:{leader.id}")[-1].text
    found = re.search(r"(/login/link/\S+)", reply)
    assert found is not None
    await console.advance(timedelta(minutes=11))
    late = console.visitor()
    await late.get(found.group(1))
    assert (await late.post(found.group(1))).status == 410


async def test_the_web_command_tells_someone_without_an_account_how_to_get_one(
    console: Console,
) -> None:
    await console.say("张组长", "/web")
    lead = await console.person("张组长")
    assert "carecheck users add" in console.adapter.to(f"test:{lead.id}")[-1].text


async def test_without_loopback_the_console_needs_a_login_even_with_no_account(
    tmp_path: Path,
) -> None:
    async for console in running(tmp_path, host="0.0.0.0"):
        visitor = console.visitor()
        page = await visitor.get("/")
        assert page.status == 303 and page.location.startswith("/login")
        login = await visitor.get("/login")
        assert "carecheck users add" in login.text


def test_the_users_commands_add_list_change_and_disable_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway import cli

    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "users.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return cli.main(list(argv))

    assert (
        run("users", "add", "ops", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
        == 0
    )
    assert "added operator account 'ops'" in capsys.readouterr().out
    assert run("users", "add", "x", "--role", "viewer", "--password-stdin", stdin="short\n") == 2
    assert "at least 10" in capsys.readouterr().err
    assert run("users", "list") == 0
    assert "ops\toperator\tgrids=*" in capsys.readouterr().out
    assert run("users", "passwd", "ops", "--password-stdin", stdin="a new long password\n") == 0
    assert run("users", "disable", "ops") == 0
    assert run("users", "list") == 0
    assert "disabled" in capsys.readouterr().out
    assert run("users", "disable", "nobody") == 2


def test_run_refuses_to_listen_beyond_loopback_without_an_operator_account(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CARECHECK_DB": str(tmp_path / "run.db"),
        "CARECHECK_CONFIG": str(tmp_path / "absent.yaml"),
        "CARECHECK_WEB_HOST": "0.0.0.0",
        "CARECHECK_WEB_PORT": "0",
        "CARECHECK_DEMO_SEED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("carecheck:")]
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0" in lines[0]
    assert "carecheck users add" in lines[0]


async def test_a_malformed_chat_message_gets_400_not_500(tmp_path: Path) -> None:
    from gateway.app import Gateway
    from gateway.clock import FakeClock
    from gateway.settings import Settings
    from tests.console_harness import START, Visitor

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=str(tmp_path / "chat.db"),
        config=tmp_path / "absent.yaml",
        web_port=0,
        local_chat=True,
    )
    gateway = await Gateway.create(settings, clock=FakeClock(START))
    await gateway.start()  # the demo community: person 1 is its grid leader
    visitor = Visitor(gateway.url)
    try:
        await visitor.get("/chat")
        for body in ("not json", "[1, 2]", '{"text": '):
            async with visitor.http.post(
                f"{gateway.url}/chat/1/send",
                data=body.encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-CSRF-Token": visitor.csrf,
                    "Origin": visitor.origin,
                },
            ) as response:
                text = await response.text()
            assert response.status == 400, body
            assert text == "the body must be a JSON object\n"
    finally:
        await visitor.close()
        await gateway.stop()


async def test_with_accounts_only_a_logged_in_operator_may_use_the_local_chat(
    tmp_path: Path,
) -> None:
    from gateway.app import Gateway
    from gateway.clock import FakeClock
    from gateway.settings import Settings
    from gateway.users import add_user
    from tests.console_harness import START, Visitor

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=str(tmp_path / "chat.db"),
        config=tmp_path / "absent.yaml",
        web_port=0,
        local_chat=True,
    )
    gateway = await Gateway.create(settings, clock=FakeClock(START))
    await gateway.start()  # the demo community: person 1 is its grid leader, 李建国
    store = gateway.store
    await add_user(store, START, "ops", PASSWORD, WebRole.OPERATOR, grids=[])
    await add_user(store, START, "li", PASSWORD, WebRole.GRID_LEADER, grids=[], person="李建国")
    anyone, leader, operator = (Visitor(gateway.url) for _ in range(3))
    try:
        assert (await anyone.get("/chat")).status == 303  # to the login page
        assert (await leader.login("li")).status == 303
        assert (await leader.get("/chat")).status == 403
        assert (await leader.get("/chat/1")).status == 403
        sent = await leader.post("/chat/1/send", json={"text": "我是别人"})
        assert sent.status == 403
        assert "/chat" not in (await leader.get("/")).text  # not in the menu either
        assert (await operator.login("ops")).status == 303
        assert (await operator.get("/chat")).status == 200
        assert (await operator.post("/chat/1/send", json={"text": "培训"})).status == 200
    finally:
        for visitor in (anyone, leader, operator):
            await visitor.close()
        await gateway.stop()


async def test_a_refusal_is_a_page_in_the_readers_language_for_a_browser(
    console: Console,
) -> None:
    visitor = console.visitor()
    await visitor.get("/")
    html = "text/html,application/xhtml+xml,*/*;q=0.8"
    missing = await visitor.get("/alerts/999", Accept=html)
    assert missing.status == 404 and "<h1>找不到</h1>" in missing.text
    assert "no such alert" in missing.text  # the detail, as scripts read it
    refused = await visitor.post("/rounds", csrf="", headers={"Accept": html})
    assert refused.status == 403 and "<h1>不能这样操作</h1>" in refused.text
    await visitor.post("/lang", {"lang": "en"})
    assert "<h1>Not found</h1>" in (await visitor.get("/people/999", Accept=html)).text
    # Scripts (and the chat page's own calls) keep the short line.
    plain = await visitor.get("/alerts/999")
    assert plain.status == 404 and plain.text == "no such alert\n"
    # A form sent after the session ended (here: the first account now exists).
    await console.add_user("ops", WebRole.OPERATOR)
    late = await visitor.post("/rounds", headers={"Accept": html})
    assert late.status == 401 and "<h1>Log in first</h1>" in late.text


async def test_the_language_switch_works_before_logging_in(console: Console) -> None:
    await console.add_user("ops", WebRole.OPERATOR)
    visitor = console.visitor()
    assert "<h1>登录</h1>" in (await visitor.get("/login")).text
    await visitor.post("/lang", {"lang": "en", "back": "/login"})
    page = await visitor.get("/login")
    assert "<h1>Log in</h1>" in page.text and "中文" in page.text
    wrong = await visitor.post("/login", {"username": "ops", "password": "not it at all"})
    assert wrong.status == 401 and "用户名或密码不对" not in wrong.text
