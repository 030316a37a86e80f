"""Reading an operator's text file (the workflow YAML, a people CSV) as UTF-8.

Spreadsheet programs on Chinese Windows save as GBK unless told otherwise, so a file
that is not UTF-8 is common: the error says where the first bad byte is (line and
byte offset) instead of Python's codec message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class TextFileError(Exception):
    def __init__(
        self,
        line: int | None,
        message: str,
        key: str = "",
        values: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        # The message as a key of the texts ("csv_problem_" + key) and its values, for a
        # page that says it in its reader's language; "" when it has none.
        self.key = key
        self.values = dict(values or {})


def decode_utf8(data: bytes) -> str:
    """`data` as text (a UTF-8 byte order mark is dropped); raises TextFileError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextFileError(
            line,
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            "(save the file as UTF-8, e.g. “CSV UTF-8” in a spreadsheet program)",
        ) from None


def read_utf8(path: Path, max_bytes: int) -> str:
    """The file's text, refusing one larger than `max_bytes` before reading it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TextFileError(
                None, f"the file is {size:,} bytes; at most {max_bytes:,} are accepted"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # it grew between the two looks
        raise TextFileError(None, f"the file is larger than {max_bytes:,} bytes")
    return decode_utf8(data)


# Spreadsheet programs run a cell that starts with one of these as a formula (OWASP's
# advice on CSV injection): a name like `=HYPERLINK(...)` typed into a chat must not
# become a link, or a command, in the operator's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """`value` for a CSV cell: a leading apostrophe makes the spreadsheet show it as
    text. A value that already starts with apostrophes before such a character gets one
    more, so that `from_spreadsheet` gives back exactly what was written."""
    if value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def from_spreadsheet(value: str) -> str:
    """The inverse of `spreadsheet_safe`, for a file coming back to be imported."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value
