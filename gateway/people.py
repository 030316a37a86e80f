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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tqdm import tqdm

from core.config import WorkflowConfig, check_timezone
from core.enums import Role
from core.ports import Store
from core.records import NewPerson
from gateway.platforms import csv_platforms
from gateway.textfiles import TextFileError, decode_utf8, from_spreadsheet, spreadsheet_safe

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
OPTIONAL_COLUMNS = ["family_of"]
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
}


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


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


def _field_problems(row: dict[str, str]) -> list[str]:
    problems = []
    for column, value in row.items():
        limit = MAX_LENGTHS.get(column)
        if limit is not None and len(value) > limit:
            problems.append(f"{column} is longer than {limit} characters ({len(value):,})")
        # Line breaks are kept only in an address (a spreadsheet cell may hold two lines).
        allowed = "\n\r\t" if column == "address" else ""
        if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
            problems.append(f"{column} contains a control character")
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
        message = "contains a NUL byte: not a CSV text file (save it as “CSV UTF-8”)"
        return ParsedPeople([], []), [RowProblem(line, message)]
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return ParsedPeople([], []), [RowProblem(reader.line_num or 1, f"cannot read: {exc}")]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or twice:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(_shown(c) for c in unknown[:5])}")
        if twice:
            parts.append(f"column(s) given twice: {', '.join(twice)}")
        parts.append(f"expected header: {','.join(COLUMNS)}[,family_of]")
        return ParsedPeople([], []), [RowProblem(1, "; ".join(parts))]

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
                problems.append(RowProblem(line, "more values than columns"))
                continue
            if not any(clean.values()):
                continue
            field_problems = _field_problems(clean)
            if field_problems:
                problems.extend(RowProblem(line, p) for p in field_problems)
                continue
            rows.append((line, clean))
    except csv.Error as exc:
        # A value of more than 128 KB, or a quote left open to the end of the file: the
        # rest cannot be read reliably, so reading stops here.
        # DictReader's own count stops at the last good row; its reader's is the line.
        problems.append(RowProblem(reader.reader.line_num, f"cannot read: {exc}"))
        return ParsedPeople([], []), problems

    names_in_file: dict[str, int] = {}
    roles_in_file: dict[str, str] = {}
    leaders_in_file = set()
    for line, row in rows:
        if row["name"]:
            if row["name"] in names_in_file:
                problems.append(
                    RowProblem(
                        line,
                        f"name {row['name']!r} already used on line {names_in_file[row['name']]}"
                        " (names must be unique; add the building, e.g. 王秀英(3栋))",
                    )
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
        errors: list[str] = []
        name, role, grid = row["name"], row["role"], row["grid"]
        if not name:
            errors.append("name is empty")
        if role not in {r.value for r in Role}:
            errors.append(f"role {_shown(role)} is not one of {', '.join(r.value for r in Role)}")
        language = row["language"] or "zh"
        if language not in ("zh", "en"):
            errors.append(f"language {_shown(language)} is not zh or en")
        timezone = row["timezone"] or config.timezone
        try:
            check_timezone(timezone)
        except ValueError as exc:
            errors.append(f"timezone: {exc}")
        plan = row["plan"]
        if role == Role.RESIDENT:
            plan = plan or config.plan_name_default
            if not grid:
                errors.append("a resident needs a grid")
        if plan and plan not in config.plans:
            errors.append(f"unknown plan {_shown(plan)} (known: {', '.join(sorted(config.plans))})")
        if grid and config.grids and grid not in config.grids:
            errors.append(
                f"unknown grid {_shown(grid)} (the workflow file lists: {', '.join(config.grids)})"
            )
        elif role == Role.RESIDENT and grid and not config.grids and grid not in leader_grids:
            errors.append(
                f"unknown grid {_shown(grid)}: no grid_leader for it in this file or the database"
            )
        family_of = row.get("family_of", "")
        if role == Role.FAMILY:
            if not family_of:
                errors.append("a family row needs family_of (the resident's name)")
            elif all_roles.get(family_of) != Role.RESIDENT:
                errors.append(
                    f"family_of {_shown(family_of)} is not a resident in this file or the database"
                )
        elif family_of:
            errors.append("family_of is only for family rows")
        for platform in csv_platforms():
            column = platform.name
            for value in _identities(row[column]):
                try:
                    address, chat = platform.identity_from_csv(value)
                except ValueError as exc:
                    errors.append(f"{column} {_shown(value)} is {exc}")
                    continue
                key = (column, address)
                if key in seen_ids:
                    errors.append(f"{column} {address} is already used on line {seen_ids[key]}")
                elif known_identities.get(key, name) != name:
                    errors.append(
                        f"{column} {address} already belongs to {known_identities[key]!r}"
                    )
                else:
                    seen_ids[key] = line
                    identities.append((name, column, address, chat))
        if errors:
            problems.extend(RowProblem(line, e) for e in errors)
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
            )
        )
    if not rows and not problems:
        problems.append(RowProblem(2, "no people in the file"))
    return ParsedPeople(people, identities), problems


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
        {**row, **{c: " ".join(held.get((str(row["name"]), c), [])) for c in columns}}
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
