"""The platforms as the gateway sees them (adapters/*/platform.py, listed once in
gateway/platforms.py): settings, people-file columns, team channels, invitations and
status warnings come from them, and nothing else outside adapters/ names a platform."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.base import Render
from adapters.fake import FakeAdapter
from adapters.matrix.platform import MATRIX, STATE_ENCRYPTED_ROOMS, MatrixSettings
from adapters.telegram.platform import TELEGRAM, TelegramSettings
from gateway.invites import Invitation, NoQrTarget, qr_card
from gateway.people import COLUMNS
from gateway.platforms import PLATFORMS, channel_problem, enabled_platforms
from gateway.settings import Settings
from tests.conftest_telegram import MemoryState
from tests.telegram_server import TelegramTestServer
from workflows.texts import Texts

ROOT = Path(__file__).resolve().parent.parent


def no_env(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def render(key: str, /, **values: object) -> str:
    return Texts({}).render("en", key, **values)


def test_the_gateway_settings_hold_every_platforms_own() -> None:
    for platform in PLATFORMS:
        assert issubclass(Settings, platform.settings), platform.name
    names = [p.name for p in PLATFORMS]
    assert len(set(names)) == len(names)


def test_the_environment_variables_keep_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "CARECHECK_TELEGRAM_TOKEN": "123:abc",
        "CARECHECK_TELEGRAM_API_BASE": "http://127.0.0.1:1",
        "CARECHECK_TELEGRAM_WEBHOOK_URL": "https://care.example.org/tg",
        "CARECHECK_TELEGRAM_WEBHOOK_SECRET": "s3cret",
        "CARECHECK_MATRIX_HOMESERVER": "https://matrix.example.org",
        "CARECHECK_MATRIX_USER_ID": "@care:example.org",
        "CARECHECK_MATRIX_ACCESS_TOKEN": "syt_x",
        "CARECHECK_LOCAL_CHAT": "false",
        "CARECHECK_WECOM_API_BASE": "http://127.0.0.1:2",
        "CARECHECK_WEBHOOK_SECRET": "hook-secret",
    }.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.telegram_token.get_secret_value() == "123:abc"
    assert settings.telegram_api_base == "http://127.0.0.1:1"
    assert settings.telegram_webhook_url == "https://care.example.org/tg"
    assert settings.telegram_webhook_secret.get_secret_value() == "s3cret"
    assert settings.matrix_homeserver == "https://matrix.example.org"
    assert settings.matrix_user_id == "@care:example.org"
    assert settings.matrix_access_token.get_secret_value() == "syt_x"
    assert settings.local_chat is False
    assert settings.wecom_api_base == "http://127.0.0.1:2"
    assert settings.webhook_secret.get_secret_value() == "hook-secret"
    names = [p.name for p in enabled_platforms(settings)]
    assert names == ["telegram", "matrix", "ping", "wecom", "webhook"]


def test_the_local_chat_runs_alone_when_nothing_else_is_configured() -> None:
    # Sensor pings, robots and webhooks always run, and are no chat platforms.
    quiet = ["ping", "wecom", "webhook"]
    assert [p.name for p in enabled_platforms(no_env())] == ["local", *quiet]
    assert [p.name for p in enabled_platforms(no_env(local_chat=False))] == quiet
    both = no_env(telegram_token="123:abc", local_chat=True)
    assert [p.name for p in enabled_platforms(both)] == ["telegram", "local", *quiet]


def test_the_people_file_has_a_column_for_each_platform_that_takes_identities() -> None:
    assert COLUMNS[-2:] == ["telegram", "matrix"]
    assert "local" not in COLUMNS


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("123456789", True),
        ("-1001234567890", True),
        (str(2**52), True),
        (str(2**52 + 1), False),
        ("0123", False),
        ("12ab", False),
        ("@someone", False),
    ],
)
def test_telegram_identities_are_chat_ids(value: str, accepted: bool) -> None:
    if accepted:
        assert TELEGRAM.identity_from_csv(value) == (value, f"telegram:{value}")
    else:
        with pytest.raises(ValueError, match="not a Telegram chat id"):
            TELEGRAM.identity_from_csv(value)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("@grandma:example.org", True),
        ("@grandma:localhost:8448", True),
        ("@Grandma:example.org", False),
        ("grandma:example.org", False),
        ("@" + "a" * 250 + ":example.org", False),
    ],
)
def test_matrix_identities_are_user_ids(value: str, accepted: bool) -> None:
    if accepted:
        assert MATRIX.identity_from_csv(value) == (value, f"matrix:{value}")
    else:
        with pytest.raises(ValueError, match="not @user:server"):
            MATRIX.identity_from_csv(value)


@pytest.mark.parametrize(
    ("channel", "ok"),
    [
        ("telegram:-1001234", True),
        ("telegram:abc", False),
        ("matrix:!room:example.org", True),
        ("matrix:#alias:example.org", False),
        ("local:药品组", True),
        ("local:", False),
        ("irc:#x", False),
        ("nothing", False),
        ("wecom:693a91f6-7aaa-4bc4-97a0-0ec2bfa5aaa0", True),
        ("wecom:no key", False),
        ("webhook:https://hooks.example.org/care", True),
        ("webhook:http://hooks.example.org/care", False),
        ("webhook:http://127.0.0.1:8099/care", True),
        ("ping:x", False),
    ],
)
def test_a_team_channel_must_be_one_a_platform_can_send_to(channel: str, ok: bool) -> None:
    problem = channel_problem(channel)
    if ok:
        assert problem is None
    else:
        assert problem == (
            'must be "telegram:<chat id>", "matrix:<room id>", "local:<name>", '
            '"wecom:<robot key>" or "webhook:https://<host>/<path>"'
        )


async def test_invitations_say_how_to_join_where_the_platform_is_not_configured() -> None:
    settings = no_env()
    lines = []
    for platform in PLATFORMS:
        inviter = await platform.inviter(settings, render)
        lines += inviter.lines("7KQ4MZ2P", team=False)
        assert inviter.qr_target("7KQ4MZ2P", team=False) is None
    assert lines == [
        "Telegram: (set CARECHECK_TELEGRAM_TOKEN to print the deep link)",
        "Matrix: send !link 7KQ4MZ2P (or /start 7KQ4MZ2P) to the carecheck bot",
    ]


@pytest.mark.telegram
async def test_the_telegram_inviter_asks_for_the_bots_name_once_for_any_number_of_codes() -> None:
    async with TelegramTestServer() as server:
        settings = TelegramSettings(
            telegram_token=server.token,  # type: ignore[arg-type]
            telegram_api_base=server.base_url,
            _env_file=None,  # type: ignore[call-arg]
        )
        inviter = await TELEGRAM.inviter(settings, render)
        codes = [f"CODE{n:04d}" for n in range(40)]
        links = [inviter.qr_target(code, team=False) for code in codes]
        team = inviter.lines("TEAM0001", team=True)
        assert len(server.calls_of("getMe")) == 1
    assert links[0] == f"https://t.me/{server.username}?start=CODE0000"
    assert len(set(links)) == 40
    assert team == [
        f"Telegram: https://t.me/{server.username}?startgroup=TEAM0001",
        "or add the bot to the group, then send /link TEAM0001 there",
    ]


async def test_the_matrix_inviter_names_the_bot_it_runs_as() -> None:
    settings = MatrixSettings(
        matrix_homeserver="https://matrix.example.org",
        matrix_user_id="@care:example.org",
        matrix_password="pw",  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    inviter = await MATRIX.inviter(settings, render)
    assert inviter.lines("C0DE", team=False) == [
        "Matrix: start a chat with @care:example.org and send !link C0DE",
        "        https://matrix.to/#/@care:example.org",
    ]
    assert inviter.card_lines("C0DE") == ["Matrix: !link C0DE → @care:example.org"]
    assert inviter.lines("C0DE", team=True) == [
        "Matrix: invite the bot to the team's room, then send !link C0DE there"
    ]


def test_a_card_without_a_link_shows_the_code_and_no_qr_code(tmp_path: Path) -> None:
    card = tmp_path / "card.svg"
    invitation = Invitation("王秀英", "7KQ4MZ2P", None, ("Matrix: !link 7KQ4MZ2P → @c:x",))
    qr_card(invitation, card, Texts({}), "zh")
    svg = card.read_text(encoding="utf-8")
    assert "王秀英" in svg and "7KQ4MZ2P" in svg and "@c:x" in svg
    assert "carecheck:" not in svg and "<path" not in svg
    with pytest.raises(NoQrTarget):
        qr_card(invitation, tmp_path / "card.png", Texts({}), "zh")
    assert not (tmp_path / "card.png").exists()
    linked = Invitation("王秀英", "7KQ4MZ2P", "https://t.me/bot?start=7KQ4MZ2P")
    qr_card(linked, card, Texts({}), "zh")
    assert "<path" in card.read_text(encoding="utf-8")


async def test_matrix_says_which_rooms_it_cannot_read() -> None:
    state = MemoryState()
    assert await MATRIX.status_notes(state) == []
    await state.set(STATE_ENCRYPTED_ROOMS, '["!a:example.org"]')
    assert await MATRIX.status_notes(state) == [
        "Matrix room !a:example.org is encrypted; the bot cannot read it"
    ]


def test_the_render_protocol_takes_the_gateways_texts() -> None:
    typed: Render = render
    assert "@b:x" in typed("invite_matrix", bot="@b:x", code="C")


def test_the_fake_adapter_keeps_its_recording_api() -> None:
    adapter = FakeAdapter()
    assert adapter.platform == "test" and adapter.sent == [] and adapter.to("test:1") == []


def test_platform_modules_import_without_their_client_libraries() -> None:
    # aiogram alone takes seconds to import: the CLI and the people file must not pay it.
    code = (
        "import sys, gateway.platforms, gateway.settings, gateway.people, gateway.status; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aiogram', 'nio'}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


# Names of platforms as code spells them: a chat reference, a setting, a module (texts
# for people may say "Telegram" or "Matrix": that is the app they use).
_PLATFORM_WORDS = ("telegram", "matrix")


def _named_platforms(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            names = []
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}"
            for name in names
            if name.startswith(tuple(f"adapters.{w}" for w in _PLATFORM_WORDS))
        ]
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and node.value.startswith(_PLATFORM_WORDS)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]!r}")
    return found


def test_only_the_platform_list_names_a_platform_outside_adapters() -> None:
    found = [
        problem
        for layer in ("core", "workflows", "gateway")
        for path in sorted((ROOT / layer).rglob("*.py"))
        if path != ROOT / "gateway" / "platforms.py"
        for problem in _named_platforms(path)
    ]
    assert not found, "\n".join(found)


def test_the_cli_writes_no_bare_qr_code_without_a_link_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli import main

    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)
    people = tmp_path / "people.csv"
    people.write_text(
        f"{','.join(COLUMNS)}\n"
        "李建国,grid_leader,G1,,zh,,,,,,\n"
        "王秀英,resident,G1,,zh,,,,,,@wang:example.org\n",
        encoding="utf-8",
    )
    assert main(["people", "import", str(people)]) == 0
    capsys.readouterr()
    assert main(["people", "invite", "王秀英", "--qr", "card.png"]) == 1
    out, err = capsys.readouterr()
    assert "invitation code for 王秀英:" in out
    assert "card.png: not written: no chat platform here gives a link" in err
    assert not (tmp_path / "card.png").exists()
    assert main(["people", "invite", "王秀英", "--qr", "card.svg"]) == 0
    assert "QR card: card.svg (the code only" in capsys.readouterr().out


async def test_the_export_fills_each_platforms_column_from_the_identities(
    tmp_path: Path,
) -> None:
    import csv
    import io
    from datetime import UTC, datetime

    from core.ids import chat_ref
    from gateway.config import builtin_config_text, parse_config
    from gateway.people import export_people, import_people
    from store.sqlite import Store

    now = datetime(2026, 11, 23, tzinfo=UTC)
    text = (
        f"{','.join(COLUMNS)}\n"
        "李建国,grid_leader,G1,,zh,,,,,1011 -1001234,\n"
        "王秀英,resident,G1,,zh,,,,,,@wang:example.org\n"
    )
    async with Store(tmp_path / "db.sqlite") as store:
        await import_people(store, parse_config(builtin_config_text()), text, now)
        async with store.transaction() as tx:
            wang = await tx.person_by_name("王秀英")
            assert wang is not None
            await tx.bind_identity(wang.id, "local", "9", chat_ref("local", 9), now)
        rows = list(csv.DictReader(io.StringIO(await export_people(store))))
    assert [(r["name"], r["telegram"], r["matrix"]) for r in rows] == [
        ("李建国", "1011 -1001234", ""),
        # A leading @ is quoted for spreadsheets; the import takes it off again.
        ("王秀英", "", "'@wang:example.org"),
    ]
    assert "local" not in rows[0]
