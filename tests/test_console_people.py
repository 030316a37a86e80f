"""People on the page: adding and editing with the import's own checks, a CSV upload
previewed before anything is written (UTF-8, UTF-8 with BOM, GB18030/GBK), exports
cut to what an account sees, and the same encodings on the command line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.console import WebRole
from gateway.people import import_people
from tests.console_harness import PEOPLE, Console, Visitor, running

HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of\n"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("zhang", WebRole.CARE_LEAD, grids=("G1",), person="张组长")
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        yield c


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


def person_form(**values: str) -> dict[str, str]:
    form = dict.fromkeys(HEADER.strip().split(","), "")
    form.update(language="zh", role="resident", grid="G1")
    form.update(values)
    return form


async def upload(visitor: Visitor, data: bytes, name: str = "people.csv") -> str:
    await visitor.get("/people")
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="text/csv")
    answer = await visitor.post("/people/import", form)
    return answer.text


async def test_a_person_added_on_the_page_is_checked_as_an_import_row(console: Console) -> None:
    ops = await as_user(console, "ops")
    await ops.get("/people/new")
    bad = await ops.post("/people/new", person_form(name="刘阿姨", role="boss", telegram="12ab"))
    assert bad.status == 400
    # The import's own checks (the form and the file cannot disagree), in the account's
    # language: the command line's English on an English page, Chinese on a Chinese one.
    assert "身份 &#39;boss&#39; 不对" in bad.text
    assert "telegram 列的 &#39;12ab&#39; 不是 Telegram 的 chat id" in bad.text
    assert "is not one of" not in bad.text
    await ops.post("/lang", {"lang": "en", "back": "/people/new"})
    await ops.get("/people/new")
    english = await ops.post(
        "/people/new", person_form(name="刘阿姨", role="boss", telegram="12ab")
    )
    assert english.status == 400
    assert "role &#39;boss&#39; is not one of resident, grid_leader" in english.text
    assert "telegram &#39;12ab&#39; is not a Telegram chat id" in english.text
    await ops.post("/lang", {"lang": "zh", "back": "/people/new"})
    await ops.get("/people/new")
    taken = await ops.post("/people/new", person_form(name="王秀英"))
    assert taken.status == 400 and "已经有人叫“王秀英”" in taken.text
    added = await ops.post(
        "/people/new",
        person_form(name="刘阿姨", building="5栋", phone="13900000001", telegram="555"),
    )
    assert added.status == 303
    liu = await console.person("刘阿姨")
    assert (liu.grid, liu.building, liu.plan, liu.phone) == ("G1", "5栋", "daily", "13900000001")
    async with console.store.read() as tx:
        assert [i.address for i in await tx.identities_of(liu.id)] == ["555"]
        assert [e.kind for e in await tx.audit_entries(f"person:{liu.id}")] == ["person.added"]
    page = await ops.get(f"/people/{liu.id}/edit")
    assert 'value="刘阿姨" maxlength="64" readonly' in page.text and 'value="555"' in page.text
    saved = await ops.post(
        f"/people/{liu.id}/edit", person_form(name="ignored", building="6栋", telegram="555")
    )
    assert saved.status == 303
    liu = await console.person("刘阿姨")
    assert liu.building == "6栋" and liu.name == "刘阿姨"


FORM_FIELD = re.compile(r'<input name="(\w+)" value="([^"]*)"')
SELECTED = re.compile(
    r'<select name="(\w+)">(?:(?!</select>).)*?<option value="([^"]*)" selected', re.S
)


async def test_saving_a_person_as_the_form_shows_them_keeps_every_column(
    console: Console,
) -> None:
    more = (
        "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,"
        "family_of,relation,contact,caller,deputy\n"
        "刘芳,caller,G1,,zh,,13800000031,,,,,,,,,\n"
        "王小红,family,,,zh,,13800000032,,,,,王秀英,女儿,,,\n"
        "刘桂兰,resident,G1,3栋,zh,,13800000033,3栋2单元402,,,,,,phone,刘芳,\n"
        "周丽,grid_leader,G1,,zh,,13800000034,,,,,,,,,\n"
        "李网格,grid_leader,G1,3栋,zh,,13800000001,,,,,,,,,周丽\n"
    )
    await import_people(console.store, console.config, more, console.clock.now())
    ops = await as_user(console, "ops")
    for name in ("王小红", "刘桂兰", "李网格"):
        before = await console.person(name)
        page = (await ops.get(f"/people/{before.id}/edit")).text
        form = dict(FORM_FIELD.findall(page)) | dict(SELECTED.findall(page))
        saved = await ops.post(f"/people/{before.id}/edit", form)
        assert saved.status == 303, (name, form, re.findall(r"<li>([^<]*)</li>", saved.text))
        assert await console.person(name) == before, name
    assert (await console.person("王小红")).relation == "女儿"


async def test_a_care_lead_manages_only_the_people_of_their_grids(console: Console) -> None:
    zhang = await as_user(console, "zhang")
    await zhang.get("/people/new")
    elsewhere = await zhang.post("/people/new", person_form(name="New One", grid="G2"))
    assert elsewhere.status == 400 and "网格 &#39;G2&#39; 不归您管" in elsewhere.text
    boss = await zhang.post("/people/new", person_form(name="Boss", role="operator", grid=""))
    assert boss.status == 400 and "不能添加或修改身份为 operator 的人员" in boss.text
    zhao = await console.person("Zhao Other")
    assert (await zhang.get(f"/people/{zhao.id}/edit")).status == 404
    assert (await zhang.post(f"/people/{zhao.id}/edit", person_form())).status == 404
    li = await as_user(console, "li")
    assert (await li.get("/people/new")).status == 403
    assert (await li.post("/people/new", person_form(name="X"))).status == 403
    listed = (await zhang.get("/people")).text
    assert "王秀英" in listed and "Zhao Other" not in listed


async def test_an_upload_is_previewed_line_by_line_and_nothing_is_written(
    console: Console,
) -> None:
    ops = await as_user(console, "ops")
    csv = (
        HEADER
        + "王秀英,resident,G1,3栋,zh,,13899999999,3栋402,,,,\n"  # update: a new phone
        + "赵新,resident,G1,4栋,zh,,,,,,,\n"  # new
        + "钱错,nobody,G1,,zh,,,,,,,\n"  # a bad role on line 4
        + "孙错,resident,G9,,zh,,,,,,,\n"  # an unknown grid on line 5
    )
    page = await upload(ops, csv.encode("utf-8"))
    assert "按 UTF-8 读取" in page
    assert re.search(r'id="count-add">1<', page) and re.search(r'id="count-update">1<', page)
    assert re.search(r'id="count-problems">2<', page)
    assert '<td class="num">4</td><td class="err">身份 &#39;nobody&#39; 不对' in page
    assert '<td class="num">5</td><td class="err">网格 &#39;G9&#39; 不认识' in page
    assert "<td>王秀英</td><td>电话</td>" in page  # what changes, in the page's words
    assert "/people/import/confirm" not in page  # with problems there is nothing to confirm
    async with console.store.read() as tx:
        assert await tx.person_by_name("赵新") is None
    assert (await console.person("王秀英")).phone == "13800000011"


@pytest.mark.parametrize(
    ("encoding", "prefix", "said"),
    [("gbk", b"", "GB18030/GBK"), ("utf-8", b"\xef\xbb\xbf", "UTF-8 with BOM")],
)
async def test_a_clean_upload_in_gbk_or_with_a_bom_is_confirmed_and_imported(
    console: Console, encoding: str, prefix: bytes, said: str
) -> None:
    ops = await as_user(console, "ops")
    csv = HEADER + "赵新,resident,G1,4栋,zh,,13700000000,4栋101,,,,\n"
    page = await upload(ops, prefix + csv.encode(encoding), "人员.csv")
    assert f"人员.csv：按 {said} 读取" in page
    text = re.search(r'name="text" value="([^"]+)"', page)
    signature = re.search(r'name="signature" value="([^"]+)"', page)
    assert text and signature
    forged = await ops.post(
        "/people/import/confirm",
        {"text": text.group(1)[:-4] + "AAA=", "signature": signature.group(1)},
    )
    assert forged.status == 400
    done = await ops.post(
        "/people/import/confirm", {"text": text.group(1), "signature": signature.group(1)}
    )
    assert done.status == 303 and "notice=" in done.location
    zhao = await console.person("赵新")
    assert (zhao.building, zhao.address) == ("4栋", "4栋101")


async def test_a_file_in_no_known_encoding_is_refused_with_its_line(console: Console) -> None:
    ops = await as_user(console, "ops")
    page = await upload(ops, HEADER.encode() + b"\xff\xff\xff,resident\n")
    assert '<td class="num">2</td><td class="err">不是 UTF-8 也不是 GB18030/GBK 文本' in page
    assert "0xff" in page
    await ops.get("/people")
    nothing = await ops.post("/people/import", aiohttp.FormData({"other": "x"}))
    assert nothing.status == 400 and "请先选择要上传的 CSV 文件" in nothing.text


async def test_exports_hold_what_the_account_sees_and_suit_excel_on_request(
    console: Console,
) -> None:
    ops, zhang = await as_user(console, "ops"), await as_user(console, "zhang")
    everything = (await ops.get("/people/export.csv")).text
    assert "Zhao Other" in everything and "王秀英" in everything
    mine = await zhang.get("/people/export.csv")
    assert mine.headers["Content-Type"].startswith("text/csv")
    assert "王秀英" in mine.text and "Zhao Other" not in mine.text
    async with zhang.http.get(zhang.base + "/people/export.csv?excel=1") as response:
        body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf" + b"name,role")


def test_the_command_line_reads_gbk_and_writes_for_excel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway import cli

    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)
    gbk = tmp_path / "people.csv"
    gbk.write_bytes(PEOPLE.encode("gbk"))
    assert cli.main(["people", "import", str(gbk)]) == 0
    assert "(read as GB18030/GBK)" in capsys.readouterr().out
    out = tmp_path / "excel.csv"
    assert cli.main(["people", "export", "--excel", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfname,role") and "王秀英".encode() in data


def test_every_console_label_is_in_both_languages() -> None:
    from workflows.texts import en, zh

    # A label missing in one language would fail the page that needs it.
    assert set(en.UI) <= set(zh.UI)
    # Chinese words for a platform's own reason; English shows the platform's reason.
    extra = set(zh.UI) - set(en.UI)
    assert all(key.startswith("csv_problem_bad_identity_") for key in extra), extra


async def test_a_residents_risk_tier_is_set_and_kept_on_the_page(console: Console) -> None:
    ops = await as_user(console, "ops")
    wang = await console.person("王秀英")
    assert wang.risk == ""
    form = (await ops.get(f"/people/{wang.id}/edit")).text
    assert '<select name="risk">' in form
    saved = await ops.post(f"/people/{wang.id}/edit", person_form(name="王秀英", risk="high"))
    assert saved.status == 303
    assert (await console.person("王秀英")).risk == "high"
    form = (await ops.get(f"/people/{wang.id}/edit")).text
    assert '<option value="high" selected>' in form
    assert "<dt>风险等级</dt><dd>高</dd>" in (await ops.get(f"/people/{wang.id}")).text
    wrong = await ops.post(f"/people/{wang.id}/edit", person_form(name="王秀英", risk="urgent"))
    assert wrong.status == 400 and "风险等级 &#39;urgent&#39; 不对" in wrong.text
    assert (await console.person("王秀英")).risk == "high"
