"""People (`/people`): the list, adding and editing one person, importing a CSV with a
preview before anything is written, and exporting (optionally for Excel).

Every way in is checked by the very function the CSV import uses
(gateway/people.py `parse_people_csv`): a form is written as a one-row file and read
back, so the page and the file can never disagree on what is valid. Uploads may be
UTF-8, UTF-8 with a BOM or GB18030/GBK; the preview says which was read.

Care leads manage the people of their own grids (residents, their family, grid
leaders, team members); operators everyone. A name is how a row is matched, so it is
not edited here (export, rename in the file, import).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from core.enums import Role
from core.ids import PersonId
from core.ports import Tx
from core.records import NewPerson, Person
from gateway.encodings import decode_spreadsheet
from gateway.people import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    Part,
    PeopleFileError,
    RowProblem,
    export_people,
    file_problem,
    import_people,
    parse_people_csv,
    problem,
    rows_to_csv,
    said,
)
from gateway.platforms import csv_platforms
from gateway.textfiles import TextFileError, from_spreadsheet
from gateway.web.deps import CONSOLE, DEPS
from gateway.web.person import visible_person
from gateway.web.principal import Principal, principal
from gateway.web.render import labels, page
from gateway.web.security import BadRequest

MAX_UPLOAD = 5 * 1024 * 1024
# Roles a care lead may give: never someone who would see more than they do.
CARE_LEAD_ROLES = frozenset({Role.RESIDENT, Role.FAMILY, Role.GRID_LEADER, Role.TEAM_MEMBER})
FORM_FIELDS = [*COLUMNS, *OPTIONAL_COLUMNS]


@dataclass(frozen=True)
class Known:
    people: dict[str, str]
    identities: dict[tuple[str, str], str]
    leaders: set[str]
    by_name: dict[str, Person]


async def known(tx: Tx) -> Known:
    """The database as the import sees it (gateway/people.py import_people)."""
    existing = await tx.people()
    names = {p.id: p.name for p in existing}
    return Known(
        people={p.name: p.role for p in existing},
        identities={(i.platform, i.address): names[i.person_id] for i in await tx.all_identities()},
        leaders={p.grid for p in existing if p.role == Role.GRID_LEADER and p.grid},
        by_name={p.name: p for p in existing},
    )


def _manager(request: web.Request) -> Principal:
    who = principal(request)
    if not who.can_manage_people:
        raise web.HTTPForbidden(
            text="only operators and care leads manage people\n", content_type="text/plain"
        )
    return who


def scope_problems(
    who: Principal, people: list[NewPerson], by_name: dict[str, Person]
) -> list[Part | None]:
    """Why rows fall outside what this account may manage (one per row, or None)."""
    if who.grids is None:
        return [None for _ in people]
    # A relative's resident may be new in the same file.
    grids = {p.name: p.grid for p in by_name.values()} | {p.name: p.grid for p in people}
    found: list[Part | None] = []
    for person in people:
        if person.role not in CARE_LEAD_ROLES:
            found.append(said("scope_role", role=person.role))
        elif person.role == Role.FAMILY:
            grid = grids.get(person.family_of_name, "")
            found.append(None if who.sees(grid) else said("scope_family"))
        elif not who.sees(person.grid):
            found.append(said("scope_grid", grid=repr(person.grid)))
        else:
            existing = by_name.get(person.name)
            moved = existing is not None and not who.sees(existing.grid)
            found.append(said("scope_moved", name=repr(person.name)) if moved else None)
    return found


# -- the list ---------------------------------------------------------------------------


async def people_list(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    engine = request.app[DEPS].engine
    q = request.query.get("q", "").strip()[:100]
    role = request.query.get("role", "")
    async with engine.store.read() as tx:
        everyone = await tx.people()
        left = await tx.deactivated_people()
        shown = [p for p in everyone if await who.sees_person(tx, p)]
    if role:
        shown = [p for p in shown if p.role == role]
    if q:
        needle = q.casefold()
        shown = [p for p in shown if needle in p.name.casefold() or needle in p.place.casefold()]
    order = {r.value: i for i, r in enumerate(Role)}
    shown.sort(key=lambda p: (p.grid, order.get(p.role, 9), p.building, p.name))
    return page(
        request,
        "people.html",
        {
            "people": shown,
            "left": left,
            "q": q,
            "role": role,
            "roles": [(r.value, t.text(f"role_{r.value}")) for r in Role],
            "notice": request.query.get("notice", "")[:300],
        },
    )


# -- one person -------------------------------------------------------------------------


@dataclass
class FormState:
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    editing: Person | None = None


def _blank(request: web.Request, who: Principal) -> dict[str, str]:
    values = dict.fromkeys(FORM_FIELDS, "")
    values.update(role="resident", language=principal(request).language)
    if who.grids:
        values["grid"] = who.grids[0]
    return values


async def _values_of(tx: Tx, person: Person) -> dict[str, str]:
    values = dict.fromkeys(FORM_FIELDS, "")
    values.update(
        name=person.name,
        role=person.role,
        grid=person.grid,
        building=person.building,
        language=person.language,
        timezone=person.timezone,
        phone=person.phone,
        address=person.address,
        plan=person.plan,
        risk=person.risk,
    )
    # Every column of the people file, so that saving the form keeps what it does not
    # change (a caller or a deputy left out would be unset).
    values["relation"] = person.relation
    values["contact"] = person.contact
    for column, other in (
        ("family_of", person.family_of),
        ("caller", person.caller),
        ("deputy", person.deputy),
    ):
        named = None if other is None else await tx.person(other)
        values[column] = named.name if named else ""
    for identity in await tx.identities_of(person.id):
        if identity.platform in values:
            values[identity.platform] = " ".join(
                v for v in (values[identity.platform], identity.address) if v
            )
    return values


def _form(request: web.Request, state: FormState, status: int = 200) -> web.Response:
    engine = request.app[DEPS].engine
    t = labels(request)
    return page(
        request,
        "person_form.html",
        {
            "values": state.values,
            "errors": state.errors,
            "editing": state.editing,
            "roles": [(r.value, t.text(f"role_{r.value}")) for r in Role],
            "plans": sorted(engine.config.plans),
            "platforms": [p.name for p in csv_platforms()],
        },
        status=status,
    )


async def new_form(request: web.Request) -> web.Response:
    who = _manager(request)
    return _form(request, FormState(_blank(request, who)))


async def edit_form(request: web.Request) -> web.Response:
    who = _manager(request)
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        person = await visible_person(tx, who, int(request.match_info["person_id"]))
        values = await _values_of(tx, person)
    return _form(request, FormState(values, editing=person))


async def _save(request: web.Request, editing: Person | None) -> web.Response:
    who = _manager(request)
    engine = request.app[DEPS].engine
    now = engine.clock.now()
    form = await request.post()
    values = {name: str(form.get(name, "")).strip() for name in FORM_FIELDS}
    if editing is not None:
        values["name"] = editing.name  # the name is the row's key
    row: dict[str, object] = dict(values)
    text = rows_to_csv([row])
    async with engine.store.transaction() as tx:
        state = await known(tx)
        if editing is None and values["name"] in state.by_name:
            return _form(
                request,
                FormState(values, [labels(request)("name_taken", name=values["name"])]),
                status=400,
            )
        parsed, problems = parse_people_csv(
            text,
            engine.config,
            known_people=state.people,
            known_identities=state.identities,
            known_grid_leaders=state.leaders,
        )
        scope = [problem(1, e) for e in scope_problems(who, parsed.people, state.by_name) if e]
        errors = [p.text(who.language) for p in [*problems, *scope]]
        if errors:
            return _form(request, FormState(values, errors, editing), status=400)
        await tx.upsert_people(parsed.people, now)
        await tx.replace_import_identities(parsed.identities, now)
        saved = await tx.person_by_name(values["name"])
        assert saved is not None
        actor = who.person.id if who.person else None
        kind = "person.edited" if editing else "person.added"
        await tx.audit(now, kind, f"person:{saved.id}", actor, f"web:{who.name or '-'}")
    request.app[CONSOLE].feed.notify()
    notice = labels(request)("saved", name=saved.name)
    raise web.HTTPSeeOther(f"/people/{saved.id}?" + urllib.parse.urlencode({"notice": notice}))


async def add(request: web.Request) -> web.Response:
    return await _save(request, None)


async def edit(request: web.Request) -> web.Response:
    who = _manager(request)
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        person = await visible_person(tx, who, int(request.match_info["person_id"]))
    return await _save(request, person)


# -- import with a preview --------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    encoding: str
    added: list[NewPerson]
    updated: list[tuple[NewPerson, list[str]]]
    unchanged: int
    problems: list[RowProblem]


def _changes(new: NewPerson, old: Person, by_id: Mapping[PersonId, str]) -> list[str]:
    fields = [
        c
        for c in ("role", "grid", "building", "language", "timezone", "phone", "address", "plan")
        if getattr(new, c) != getattr(old, c)
    ]
    if new.relation != old.relation:
        fields.append("relation")
    if new.contact and new.contact != old.contact:
        fields.append("contact")
    for column, named, other in (
        ("family_of", new.family_of_name, old.family_of),
        ("caller", new.caller_name, old.caller),
        ("deputy", new.deputy_name, old.deputy),
    ):
        if named != ("" if other is None else by_id.get(other, "")):
            fields.append(column)
    return fields


async def preview_of(request: web.Request, who: Principal, text: str, encoding: str) -> Preview:
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        state = await known(tx)
    parsed, problems = parse_people_csv(
        text,
        engine.config,
        known_people=state.people,
        known_identities=state.identities,
        known_grid_leaders=state.leaders,
    )
    scope = scope_problems(who, parsed.people, state.by_name)
    problems = list(problems)
    by_id = {p.id: p.name for p in state.by_name.values()}
    added, updated, unchanged = [], [], 0
    for person, out_of_scope in zip(parsed.people, scope, strict=True):
        if out_of_scope:
            problems.append(problem(_line_of(text, person.name), out_of_scope))
            continue
        old = state.by_name.get(person.name)
        if old is None:
            added.append(person)
        elif changed := _changes(person, old, by_id):
            updated.append((person, changed))
        else:
            unchanged += 1
    problems.sort(key=lambda p: p.line)
    return Preview(encoding, added, updated, unchanged, problems)


def _line_of(text: str, name: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split(",", 1)[0].strip().strip('"') == name:
            return number
    return 0


def _signature(request: web.Request, text: str) -> str:
    # The confirmed file must be the previewed one: the page sends the text back, and
    # this keyed digest (the session's CSRF token as key) shows it was not changed.
    key = principal(request).csrf.encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


async def upload(request: web.Request) -> web.Response:
    who = _manager(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        refused = Preview("?", [], [], 0, [problem(1, said("no_file"))])
        return _preview_page(request, refused, "", "", status=400)
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        too_large = problem(1, said("too_large", limit=f"{MAX_UPLOAD:,}"))
        refused = Preview("?", [], [], 0, [too_large])
        return _preview_page(request, refused, "", upload.filename, status=400)
    try:
        text, encoding = decode_spreadsheet(data)
    except TextFileError as exc:
        preview = Preview("?", [], [], 0, [file_problem(exc)])
        return _preview_page(request, preview, "", upload.filename, status=400)
    preview = await preview_of(request, who, text, encoding)
    # Some clients percent-encode a name that is not ASCII; browsers send it as is.
    return _preview_page(request, preview, text, urllib.parse.unquote(upload.filename))


def _preview_page(
    request: web.Request, preview: Preview, text: str, filename: str, status: int = 200
) -> web.Response:
    return page(
        request,
        "import_preview.html",
        {
            "preview": preview,
            # Base64 in a hidden field: a browser would turn the file's line ends into CRLF.
            "text": base64.b64encode(text.encode()).decode() if text else "",
            "signature": _signature(request, text) if text else "",
            "filename": filename[:200],
        },
        status=status,
    )


async def confirm(request: web.Request) -> web.Response:
    who = _manager(request)
    engine = request.app[DEPS].engine
    form = await request.post()
    try:
        text = base64.b64decode(str(form.get("text", "")), validate=True).decode()
    except ValueError:
        raise BadRequest("the file was changed after its preview; upload it again") from None
    given = str(form.get("signature", ""))
    if not text or not hmac.compare_digest(given, _signature(request, text)):
        raise BadRequest("the file was changed after its preview; upload it again")
    preview = await preview_of(request, who, text, str(form.get("encoding", "")))
    if preview.problems:
        return _preview_page(request, preview, text, str(form.get("filename", "")), status=400)
    try:
        count = await import_people(
            engine.store, engine.config, text, engine.clock.now(), f"web:{who.name or '-'}"
        )
    except PeopleFileError as exc:  # the database changed between preview and confirm
        again = Preview(preview.encoding, [], [], 0, exc.problems)
        return _preview_page(request, again, text, str(form.get("filename", "")), status=400)
    request.app[CONSOLE].feed.notify()
    notice = labels(request)("imported", count=count)
    raise web.HTTPSeeOther("/people?" + urllib.parse.urlencode({"notice": notice}))


# -- export -----------------------------------------------------------------------------


async def export(request: web.Request) -> web.Response:
    who = principal(request)
    engine = request.app[DEPS].engine
    text = await export_people(engine.store)
    if who.grids is not None:
        # The same file, cut to the people this account sees.
        async with engine.store.read() as tx:
            visible = {p.name for p in await tx.people() if await who.sees_person(tx, p)}
        rows: list[dict[str, object]] = [
            {str(k): from_spreadsheet(v or "") for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text))
            if from_spreadsheet(row.get("name") or "") in visible
        ]
        text = rows_to_csv(rows)
    excel = request.query.get("excel") == "1"
    body = ("\ufeff" + text) if excel else text
    return web.Response(
        body=body.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="people.csv"',
            "Cache-Control": "no-store",
        },
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/people", people_list),
        web.get("/people/new", new_form),
        web.post("/people/new", add),
        web.get("/people/{person_id:\\d{1,12}}/edit", edit_form),
        web.post("/people/{person_id:\\d{1,12}}/edit", edit),
        web.post("/people/import", upload),
        web.post("/people/import/confirm", confirm),
        web.get("/people/export.csv", export),
    ]
