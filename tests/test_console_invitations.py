"""Invitation sheets: new one-time codes per person, from the page (scoped) and from
`carecheck people invite --grid G --sheet`; A4 pages of A6 cards where nothing is cut,
checked in a real browser with names long and short, in Chinese and English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import segno

from core.console import WebRole
from gateway.web.sheets import Card, render_sheet
from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.console_harness import Console, Visitor, running

CODE = re.compile(r'<div class="code">([A-Z0-9]+)</div>')


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        await c.add_user("watch", WebRole.VIEWER)
        yield c


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


async def test_a_grid_leader_prints_new_codes_for_their_grid_only(console: Console) -> None:
    li = await as_user(console, "li")
    page = await li.get("/invitations")
    assert page.status == 200 and "王秀英" in page.text and "Zhao Other" not in page.text
    sheet = await li.post("/invitations/sheet", {"grid": "G1"})
    assert sheet.status == 200
    names = re.findall(r'<div class="name [^"]*">([^<]+)</div>', sheet.text)
    assert sorted(names) == sorted(["王秀英", "陈德福", "李网格", "张组长"])
    codes = CODE.findall(sheet.text)
    assert len(codes) == 4 and len(set(codes)) == 4
    assert sheet.text.count('<section class="page">') == 1
    # Each code is a real invitation for its person, usable once.
    async with console.store.read() as tx:
        for code in codes:
            invite = await tx.open_invite(code, console.clock.now())
            assert invite is not None and invite.person_id is not None
    # No chat platform here gives a link to scan: the card says to send the code.
    assert 'class="qr"' not in sheet.text and "请把下面的邀请码发给社区的聊天机器人" in sheet.text
    wang = await console.person("王秀英")
    zhao = await console.person("Zhao Other")
    chosen = await li.post("/invitations/sheet", {"person": str(wang.id)})
    assert len(CODE.findall(chosen.text)) == 1
    assert (await li.post("/invitations/sheet", {"grid": "G2"})).status == 404
    assert (await li.post("/invitations/sheet", {"person": str(zhao.id)})).status == 404
    nothing = await li.post("/invitations/sheet", {})
    assert nothing.status == 400 and "请选择一个网格" in nothing.text
    # Everyone here is enrolled already (the test platform): nothing to print, said so.
    enrolled = await li.post("/invitations/sheet", {"grid": "G1", "only_unenrolled": "1"})
    assert enrolled.status == 400 and "选中的人都已经登记了聊天" in enrolled.text
    watch = await as_user(console, "watch")
    assert (await watch.post("/invitations/sheet", {"grid": "G1"})).status == 403


async def test_family_contacts_are_invited_by_whoever_sees_their_resident(
    console: Console,
) -> None:
    from gateway.people import import_people

    family = (
        "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of\n"
    )
    family += "Wang Son,family,,,en,,447000000,,,,,王秀英\n"
    await import_people(console.store, console.config, family, console.clock.now())
    son = await console.person("Wang Son")
    li = await as_user(console, "li")
    assert "Wang Son" in (await li.get("/invitations")).text
    sheet = await li.post("/invitations/sheet", {"person": str(son.id)})
    assert sheet.status == 200 and len(CODE.findall(sheet.text)) == 1
    assert "Send the code below" in sheet.text  # in his language


def test_the_command_line_writes_a_sheet_for_a_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway import cli
    from tests.console_harness import PEOPLE

    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    assert cli.main(["people", "import", "people.csv"]) == 0
    assert cli.main(["people", "invite", "--grid", "G2", "--sheet", "cards.html"]) == 0
    assert "wrote 2 invitation card(s) for grid G2" in capsys.readouterr().out
    html = (tmp_path / "cards.html").read_text(encoding="utf-8")
    assert "Zhao Other" in html and "Leader Other" in html and "王秀英" not in html
    # The English-speaking residents get English instructions.
    assert "Send the code below" in html
    assert cli.main(["people", "invite", "--grid", "G9", "--sheet", "x.html"]) == 2
    assert cli.main(["people", "invite", "--sheet", "x.html"]) == 2


def card(name: str, language: str, qr: bool = True) -> Card:
    svg = segno.make(f"https://t.me/carecheck_bot?start={'A' * 8}", error="m").svg_inline(
        scale=1, border=2, omitsize=True
    )
    size = "very-long" if len(name) > 20 else "long" if len(name) > 8 else ""
    hint = (
        "用手机扫码，在 Telegram 里点“开始”；或把下面的邀请码发给机器人"
        if language == "zh"
        else "Scan with your phone and tap Start in Telegram, or send the code below to the bot"
    )
    return Card(
        name=name,
        place="幸福里1号网格 3栋" if language == "zh" else "Grid 12 Building 9",
        code="K7M2Q9XW",
        qr_svg=svg if qr else "",
        hint=hint,
        lines=("Matrix: !link K7M2Q9XW → @carecheck:matrix.example.org",),
        language=language,
        size=size,
    )


async def test_no_card_on_a_printed_sheet_is_cut_off(tmp_path: Path) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    cards = [
        card("王秀英", "zh"),
        card("欧阳娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜(3栋)", "zh"),
        card("Maximilian Alexander Wolfeschlegelsteinhausen-Bergerdorff", "en"),
        card("陈德福", "zh", qr=False),
        card("Li", "en"),
    ]
    html = render_sheet(cards, "zh", 14)
    (tmp_path / "sheet.html").write_text(html, encoding="utf-8")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        page = await browser.new_page()
        await page.goto((tmp_path / "sheet.html").as_uri())
        # Two A4 pages (five cards, four to a page), each 210 × 297 mm at 96 dpi.
        pages = await page.eval_on_selector_all(
            ".page", "els => els.map(e => [e.offsetWidth, e.offsetHeight])"
        )
        assert pages == [[794, 1123], [794, 1123]]
        overflow = await page.eval_on_selector_all(
            ".card",
            """cards => cards.flatMap(card => {
                const box = card.getBoundingClientRect();
                const out = [];
                if (card.scrollHeight > card.clientHeight + 1) out.push('card taller than A6');
                for (const el of card.querySelectorAll('*')) {
                    const r = el.getBoundingClientRect();
                    if (r.width === 0 && r.height === 0) continue;
                    if (r.left < box.left - 1 || r.right > box.right + 1 ||
                        r.top < box.top - 1 || r.bottom > box.bottom + 1)
                        out.push(el.className + ' outside its card');
                    if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'svg')
                        out.push(el.className + ' cut on the side');
                }
                return out.map(o => card.querySelector('.name').textContent + ': ' + o);
            })""",
        )
        assert overflow == []
        qr = await page.eval_on_selector(".qr", "e => e.getBoundingClientRect().width")
        assert qr > 170  # 46 mm: large enough for a phone to read from a hand's length
        await page.pdf(path=str(tmp_path / "sheet.pdf"), format="A4", print_background=True)
        await browser.close()
    assert (tmp_path / "sheet.pdf").stat().st_size > 10_000
