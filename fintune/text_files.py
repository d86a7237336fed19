"""Decoding a user's text file (an upload, a glossary): one set of rules and messages for every loader.

UTF-8 with or without a BOM, and UTF-16 (Excel's "Unicode text" export, found from its BOM or its NUL
pattern). A binary file or a bad byte fails with the line it is on and how to re-save the file. Each caller
passes its own package's error class, so the message reaches the user as that package's error. JSON Lines
texts are split into rows by ``json_lines``.
"""

from __future__ import annotations

import codecs

from fintune.errors import FinTuneError

_RESAVE = "Re-save it as UTF-8 (in Excel: Save As -> 'CSV UTF-8'; in Python: encoding='utf-8'; or `iconv -f latin1 -t utf-8`)."


def encoding_of(data: bytes) -> str:
    """``utf-8``, ``utf-8-sig`` or a UTF-16 codec, from the BOM or the NUL pattern of the first 4 KB."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    head = data[:4096]
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head[1::2]) and head[0::2].count(0) == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > 0.4 * len(head[0::2]) and head[1::2].count(0) == 0:
        return "utf-16-be"
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return "utf-8"


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text. Split on newlines only: ``str.splitlines`` also breaks at U+2028 and other
    separators that a JSON string may hold raw (tweets do), which would cut a row in two."""
    return text.split("\n")


def decode_user_text(data: bytes, name: str, error: type[FinTuneError], kind: str = "text") -> str:
    """The file's text without a BOM; ``error`` names the problem and the fix when it is not text.

    ``kind`` says what text was expected ("CSV text", "a CSV/JSON/JSONL glossary") for the binary-file message.
    """
    if data.startswith(b"PK\x03\x04"):
        raise error(f"'{name}' is a zip or Excel workbook, not {kind}. Save the sheet as CSV (UTF-8) and use that.")
    if data.startswith(b"%PDF"):
        raise error(f"'{name}' is a PDF, not {kind}. Export the table as CSV, JSON or JSONL first.")
    encoding = encoding_of(data)
    if encoding.startswith("utf-16"):
        try:
            return data.decode(encoding).lstrip("\ufeff")
        except UnicodeDecodeError:
            raise error(f"'{name}' looks like UTF-16 text (Excel's \"Unicode text\") but does not decode as UTF-16. {_RESAVE}") from None
    if b"\x00" in data[: 1 << 16]:
        raise error(f"'{name}' looks like a binary file, not {kind}. Export it as plain UTF-8 text.")
    try:
        return data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:  # the whole file is checked, so the line of the first bad byte is reported
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"'{name}' is not UTF-8 text (bad byte 0x{data[exc.start]:02x} on line {line}). {_RESAVE}") from None
