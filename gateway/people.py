"""People from and to CSV: `carecheck people import|export`.

An import is all or nothing: every row is checked first, every problem is reported
with its line number, and only a clean file touches the database.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tqdm import tqdm

from core.config import WorkflowConfig, check_timezone
from core.enums import Risk, Role
from core.ports import Store
from core.records import NewPerson
from gateway.platforms import csv_platforms
from gateway.textfiles import TextFileError, decode_utf8, from_spreadsheet, spreadsheet_safe
from workflows.texts import ui

# Then one column per chat platform that takes identities from the file (telegram,
# matrix), in the platforms' order.
PERSON_COLUMNS = [
    "name",
    "role",
    "grid",
    "building",
    "language",
    "timezone",
    "phone",
    "address",
    "plan",
]
COLUMNS = PERSON_COLUMNS + [p.name for p in csv_platforms()]
# contact: chat (the default) or phone, how a resident is checked on; caller: who phones
# them; deputy: who takes a responder's alerts while they are away.
# risk: high, key or general (empty keeps a person's tier; new people: general) — how
# long a resident may go without human contact before the early warning flags it.
OPTIONAL_COLUMNS = ["family_of", "relation", "contact", "caller", "deputy", "risk"]
CONTACTS = ("chat", "phone")
# Roles whose people may be a resident's caller.
CALLER_ROLES = (Role.CALLER, Role.TEAM_MEMBER)
# Longest value each column takes: enough for any real entry, short enough that a
# pasted document or a wrong file is caught here and not on the dashboard.
MAX_LENGTHS = {
    "name": 64,
    "role": 32,
    "grid": 64,
    "building": 64,
    "language": 8,
    "timezone": 64,
    "phone": 32,
    "address": 200,
    "plan": 64,
    **{p.name: p.csv_max_length for p in csv_platforms()},
    "family_of": 64,
    "relation": 32,
    "contact": 8,
    "caller": 64,
    "deputy": 64,
    "risk": 16,
}


# One sentence of a problem: a key of the texts (workflows/texts, "csv_problem_" + key)
# and its values.
Part = tuple[str, Mapping[str, object]]


def _say(language: str, parts: tuple[Part, ...]) -> str:
    sentences = []
    for key, values in parts:
        if key == "bad_identity":
            # A platform's own wording where the language has one; else its reason as is.
            try:
                sentences.append(ui(language, f"csv_problem_{key}_{values['column']}", **values))
                continue
            except KeyError:
                pass
        sentences.append(ui(language, f"csv_problem_{key}", **values))
    return ui(language, "csv_problem_separator").join(sentences)


@dataclass(frozen=True)
class RowProblem:
    line: int
    # In English: what `people import` prints.
    message: str
    # The same as keys of the texts, for a page in its reader's language (`text`); empty
    # for a message that has none (it is then shown as it is).
    parts: tuple[Part, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    def text(self, language: str) -> str:
        return _say(language, self.parts) if self.parts else self.message


def problem(line: int, *parts: Part) -> RowProblem:
    return RowProblem(line, _say("en", parts), parts)


def said(key: str, **values: object) -> Part:
    return key, values


def file_problem(exc: TextFileError) -> RowProblem:
    """A file that could not be read as text, as the problem of its line."""
    if exc.key:
        return problem(exc.line or 1, said(exc.key, **exc.values))
    return RowProblem(exc.line or 1, exc.message)


class PeopleFileError(Exception):
    def __init__(self, file: str, problems: list[RowProblem]) -> None:
        super().__init__("\n".join(f"{file}: {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ParsedPeople:
    people: list[NewPerson]
    identities: list[tuple[str, str, str, str]]  # name, platform, address, chat


def _identities(value: str) -> list[str]:
    return [v for v in re.split(r"[\s;]+", value.strip()) if v]


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _field_problems(row: dict[str, str]) -> list[Part]:
    problems = []
    for column, value in row.items():
        limit = MAX_LENGTHS.get(column)
        if limit is not None and len(value) > limit:
            problems.append(said("too_long", column=column, limit=limit, length=f"{len(value):,}"))
        # Line breaks are kept only in an address (a spreadsheet cell may hold two lines).
        allowed = "\n\r\t" if column == "address" else ""
        if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
            problems.append(said("control_character", column=column))
    return problems


def decode_people_file(data: bytes, file: str = "<csv>") -> str:
    """The text of a people file; raises PeopleFileError when it is not UTF-8."""
    try:
        return decode_utf8(data)
    except TextFileError as exc:
        raise PeopleFileError(file, [RowProblem(exc.line or 1, exc.message)]) from None


def parse_people_csv(
    text: str,
    config: WorkflowConfig,
    *,
    known_people: dict[str, str],
    known_identities: dict[tuple[str, str], str],
    known_grid_leaders: set[str],
) -> tuple[ParsedPeople, list[RowProblem]]:
    """Check every row. `known_*` describe the database: names to roles, identities to
    the name that holds them, grids that already have a grid leader."""
    problems: list[RowProblem] = []
    text = text.lstrip("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        # Not a text file, or one saved as UTF-16 ("Unicode text" in some spreadsheets).
        line = text.count("\n", 0, nul) + 1
        return ParsedPeople([], []), [problem(line, said("nul"))]
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return ParsedPeople([], []), [problem(reader.line_num or 1, said("cannot_read", error=exc))]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or twice:
        parts = []
        if missing:
            parts.append(said("missing_columns", columns=", ".join(missing)))
        if unknown:
            parts.append(said("unknown_columns", columns=", ".join(_shown(c) for c in unknown[:5])))
        if twice:
            parts.append(said("columns_twice", columns=", ".join(twice)))
        optional = "".join(f"[,{c}]" for c in OPTIONAL_COLUMNS)
        parts.append(said("expected_header", header=f"{','.join(COLUMNS)}{optional}"))
        return ParsedPeople([], []), [problem(1, *parts)]

    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            line = reader.line_num
            clean = {
                k.strip(): from_spreadsheet((v or "").strip())
                for k, v in record.items()
                if k is not None
            }
            if None in record:
                problems.append(problem(line, said("more_values")))
                continue
            if not any(clean.values()):
                continue
            field_problems = _field_problems(clean)
            if field_problems:
                problems.extend(problem(line, p) for p in field_problems)
                continue
            rows.append((line, clean))
    except csv.Error as exc:
        # A value of more than 128 KB, or a quote left open to the end of the file: the
        # rest cannot be read reliably, so reading stops here.
        # DictReader's own count stops at the last good row; its reader's is the line.
        problems.append(problem(reader.reader.line_num, said("cannot_read", error=exc)))
        return ParsedPeople([], []), problems

    names_in_file: dict[str, int] = {}
    roles_in_file: dict[str, str] = {}
    leaders_in_file = set()
    for line, row in rows:
        if row["name"]:
            if row["name"] in names_in_file:
                first = names_in_file[row["name"]]
                problems.append(
                    problem(line, said("name_twice", name=repr(row["name"]), first=first))
                )
            else:
                names_in_file[row["name"]] = line
                roles_in_file[row["name"]] = row["role"]
        if row["role"] == Role.GRID_LEADER and row["grid"]:
            leaders_in_file.add(row["grid"])
    all_roles = {**known_people, **roles_in_file}
    leader_grids = known_grid_leaders | leaders_in_file

    people: list[NewPerson] = []
    identities: list[tuple[str, str, str, str]] = []
    seen_ids: dict[tuple[str, str], int] = {}
    for line, row in tqdm(
        rows,
        desc="checking",
        unit="row",
        leave=False,
        disable=len(rows) < 2000 or not sys.stderr.isatty(),
    ):
        errors: list[Part] = []
        name, role, grid = row["name"], row["role"], row["grid"]
        if not name:
            errors.append(said("name_empty"))
        if role not in {r.value for r in Role}:
            roles = ", ".join(r.value for r in Role)
            errors.append(said("bad_role", role=_shown(role), roles=roles))
        language = row["language"] or "zh"
        if language not in ("zh", "en"):
            errors.append(said("bad_language", value=_shown(language)))
        timezone = row["timezone"] or config.timezone
        try:
            check_timezone(timezone)
        except ValueError:
            errors.append(said("bad_timezone", timezone=repr(timezone)))
        plan = row["plan"]
        if role == Role.RESIDENT:
            plan = plan or config.plan_name_default
            if not grid:
                errors.append(said("resident_without_grid"))
        if plan and plan not in config.plans:
            known = ", ".join(sorted(config.plans))
            errors.append(said("unknown_plan", plan=_shown(plan), plans=known))
        if grid and config.grids and grid not in config.grids:
            listed = ", ".join(config.grids)
            errors.append(said("grid_not_listed", grid=_shown(grid), grids=listed))
        elif role == Role.RESIDENT and grid and not config.grids and grid not in leader_grids:
            errors.append(said("grid_without_leader", grid=_shown(grid)))
        family_of = row.get("family_of", "")
        if role == Role.FAMILY:
            if not family_of:
                errors.append(said("family_without_resident"))
            elif all_roles.get(family_of) != Role.RESIDENT:
                errors.append(said("family_of_not_resident", name=_shown(family_of)))
        elif family_of:
            errors.append(said("family_of_not_family"))
        if row.get("relation", "") and role != Role.FAMILY:
            errors.append(said("relation_not_family"))
        errors.extend(_care_problems(row, role, all_roles))
        risk = row.get("risk", "").lower()
        if risk and risk not in {r.value for r in Risk}:
            errors.append(
                said("bad_risk", value=_shown(risk), risks=", ".join(r.value for r in Risk))
            )
        elif risk and role != Role.RESIDENT:
            errors.append(said("risk_not_resident"))
        for platform in csv_platforms():
            column = platform.name
            for value in _identities(row[column]):
                try:
                    address, chat = platform.identity_from_csv(value)
                except ValueError as exc:
                    errors.append(
                        said("bad_identity", column=column, value=_shown(value), reason=exc)
                    )
                    continue
                key = (column, address)
                if key in seen_ids:
                    first = seen_ids[key]
                    errors.append(
                        said("identity_twice", column=column, address=address, first=first)
                    )
                elif known_identities.get(key, name) != name:
                    holder = repr(known_identities[key])
                    errors.append(
                        said("identity_taken", column=column, address=address, holder=holder)
                    )
                else:
                    seen_ids[key] = line
                    identities.append((name, column, address, chat))
        if errors:
            problems.extend(problem(line, e) for e in errors)
            continue
        people.append(
            NewPerson(
                name=name,
                role=role,
                grid=grid,
                building=row["building"],
                language=language,
                timezone=timezone,
                phone=row["phone"],
                address=row["address"],
                plan=plan,
                family_of_name=family_of,
                relation=row.get("relation", ""),
                contact=row.get("contact", ""),
                caller_name=row.get("caller", ""),
                deputy_name=row.get("deputy", ""),
                risk=risk,
            )
        )
    if not rows and not problems:
        problems.append(problem(2, said("no_people")))
    return ParsedPeople(people, identities), problems


def _care_problems(row: dict[str, str], role: str, all_roles: dict[str, str]) -> list[Part]:
    """The columns of care beyond the chat: contact, caller, deputy."""
    errors = []
    contact, caller, deputy = row.get("contact", ""), row.get("caller", ""), row.get("deputy", "")
    if contact and contact not in CONTACTS:
        errors.append(said("bad_contact", value=_shown(contact), contacts=", ".join(CONTACTS)))
    elif contact == "phone" and role != Role.RESIDENT:
        errors.append(said("phone_for_responder"))
    elif contact == "phone" and not row["phone"]:
        errors.append(said("phone_without_number"))
    if caller:
        if role != Role.RESIDENT:
            errors.append(said("caller_not_resident"))
        elif all_roles.get(caller) not in CALLER_ROLES:
            errors.append(said("caller_not_caller", name=_shown(caller)))
    if deputy:
        if role == Role.RESIDENT:
            errors.append(said("deputy_for_resident"))
        elif deputy == row["name"]:
            errors.append(said("deputy_self"))
        elif all_roles.get(deputy) in (None, Role.RESIDENT):
            errors.append(said("deputy_not_responder", name=_shown(deputy)))
    return errors


async def import_people(
    store: Store, config: WorkflowConfig, text: str, now: datetime, file: str = "<csv>"
) -> int:
    """Check the whole file, then write it in one transaction. Raises PeopleFileError."""
    async with store.transaction() as tx:
        existing = await tx.people()
        known_people = {p.name: p.role for p in existing}
        by_id = {p.id: p.name for p in existing}
        known_identities = {
            (i.platform, i.address): by_id[i.person_id] for i in await tx.all_identities()
        }
        leaders = {p.grid for p in existing if p.role == Role.GRID_LEADER and p.grid}
        parsed, problems = parse_people_csv(
            text,
            config,
            known_people=known_people,
            known_identities=known_identities,
            known_grid_leaders=leaders,
        )
        if problems:
            raise PeopleFileError(file, problems)
        await tx.upsert_people(parsed.people, now)
        await tx.replace_import_identities(parsed.identities, now)
        await tx.audit(now, "people.imported", file, None, str(len(parsed.people)))
    return len(parsed.people)


async def export_people(store: Store) -> str:
    async with store.transaction() as tx:
        rows = await tx.export_rows()
        names = {p.id: p.name for p in await tx.people()}
        identities = await tx.all_identities()
    # Each platform's column from the identities, so the file follows the platforms.
    columns = {p.name for p in csv_platforms()}
    held: dict[tuple[str, str], list[str]] = {}
    for identity in identities:
        if identity.platform in columns:
            held.setdefault((names[identity.person_id], identity.platform), []).append(
                identity.address
            )
    return rows_to_csv(
        {
            **row,
            # Chat is the default: only "phone" is worth a value in the file.
            "contact": "phone" if row.get("contact") == "phone" else "",
            **{c: " ".join(held.get((str(row["name"]), c), [])) for c in columns},
        }
        for row in rows
    )


def rows_to_csv(rows: Iterable[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS + OPTIONAL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {c: spreadsheet_safe(str(row.get(c) or "")) for c in COLUMNS + OPTIONAL_COLUMNS}
        )
    return out.getvalue()
