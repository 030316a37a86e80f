"""Reading a spreadsheet's CSV in whichever encoding it was saved: UTF-8, UTF-8 with a
byte order mark (Excel's "CSV UTF-8"), or GB18030 — the superset of GBK and GB2312,
what a spreadsheet on Chinese Windows writes by default. Which one was read is said
back, so an operator who sees garbled names knows why.

UTF-8 is tried first: text that decodes as UTF-8 is almost never meant as GBK, while
much UTF-8 would also decode, wrongly, as GB18030.
"""

from __future__ import annotations

import codecs

from gateway.textfiles import TextFileError
from workflows.texts import ui

UTF8 = "UTF-8"
UTF8_BOM = "UTF-8 with BOM"
GB18030 = "GB18030/GBK"


def decode_spreadsheet(data: bytes) -> tuple[str, str]:
    """(text, the encoding it was read as); raises TextFileError naming the line."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), UTF8_BOM
        except UnicodeDecodeError as exc:
            raise _error(data, exc.start + len(codecs.BOM_UTF8), "not_text_bom") from None
    try:
        return data.decode("utf-8"), UTF8
    except UnicodeDecodeError as utf8:
        first_bad = utf8.start
    try:
        return data.decode("gb18030"), GB18030
    except UnicodeDecodeError:
        raise _error(data, first_bad, "not_text") from None


def _error(data: bytes, offset: int, key: str) -> TextFileError:
    line = data.count(b"\n", 0, offset) + 1
    values = {"byte": f"{data[offset]:02x}", "offset": offset}
    return TextFileError(line, ui("en", f"csv_problem_{key}", **values), key, values)
