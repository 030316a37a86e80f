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

UTF8 = "UTF-8"
UTF8_BOM = "UTF-8 with BOM"
GB18030 = "GB18030/GBK"


def decode_spreadsheet(data: bytes) -> tuple[str, str]:
    """(text, the encoding it was read as); raises TextFileError naming the line."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), UTF8_BOM
        except UnicodeDecodeError as exc:
            raise _error(
                data, exc.start + len(codecs.BOM_UTF8), "UTF-8 (it starts with a UTF-8 mark)"
            ) from None
    try:
        return data.decode("utf-8"), UTF8
    except UnicodeDecodeError as utf8:
        first_bad = utf8.start
    try:
        return data.decode("gb18030"), GB18030
    except UnicodeDecodeError:
        raise _error(data, first_bad, "UTF-8 or GB18030/GBK") from None


def _error(data: bytes, offset: int, what: str) -> TextFileError:
    line = data.count(b"\n", 0, offset) + 1
    return TextFileError(
        line,
        f"not {what} text: byte 0x{data[offset]:02x} at offset {offset} "
        "(save the file as “CSV UTF-8” in the spreadsheet program)",
    )
