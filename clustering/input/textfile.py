"""The one reader of text files a user gives: centres, rule files, matrices, previous layouts.

Files come from many tools: UTF-8 with or without a byte-order mark (most
tools, Excel's "CSV UTF-8"), or Windows cp1252 (Excel's plain "CSV", downloads
from Get Information about Schools). :func:`read_text` tries UTF-8 first (a
byte-order mark is dropped), then cp1252; a file whose lines mix the two (rows
pasted together from two exports) is read line by line, each in its own; a
file that is neither, or that is not text at all (a spreadsheet or an image
given by mistake), raises
:class:`~clustering.errors.InputError` naming the file.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError

__all__ = ["ENCODINGS", "FORMULA_STARTS", "decode", "read_csv_text", "read_text"]

#: A text cell starting with one of these is read by spreadsheets as a formula (OWASP's
#: list for CSV injection): the package's exports put an apostrophe before it
#: (:func:`clustering.output.tables.safe_text`) and its readers take it off again
#: (:func:`clustering.input.files.norm_id`).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: tried in this order; ``utf-8-sig`` reads plain UTF-8 too and drops a byte-order mark
ENCODINGS = ("utf-8-sig", "cp1252")

_FIX = "save it as CSV UTF-8 (or plain text)"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(data: bytes, file: str) -> str:
    """The text of ``data`` (the bytes of ``file``), as UTF-8 or else cp1252.

    Raises
    ------
    InputError
        When the bytes are not text (they hold NUL bytes, e.g. an Excel
        workbook or UTF-16) or are neither UTF-8 nor cp1252.
    """
    if data.startswith(_UTF16_BOMS):
        raise InputError("the file is UTF-16 text, which is not read here", file=file, fix=_FIX)
    if b"\x00" in data:
        raise InputError(
            "the file is not text (it holds binary data; is it a spreadsheet or an image?)",
            file=file,
            fix=_FIX,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if _MOJIBAKE.search(data):
        # UTF-8 lines and cp1252 lines in one file (rows pasted from two exports): each
        # line is read in the encoding it was written in
        lines = data.split(b"\n")
        return "\n".join(_line(line, file, k) for k, line in enumerate(lines, start=1))
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    raise InputError("the file is neither UTF-8 nor cp1252 text", file=file, fix=_FIX)


#: bytes of a two-byte UTF-8 letter (é = C3 A9): a file that has them and still is not
#: UTF-8 mixes encodings
_MOJIBAKE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]")


def _line(line: bytes, file: str, number: int) -> str:
    try:
        return line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(
            "the line is neither UTF-8 nor cp1252 text", file=file, row=number, fix=_FIX
        ) from None


def read_text(path: str | Path, *, what: str | None = None) -> str:
    """The text of the file at ``path``, read as UTF-8 (with or without a BOM) or cp1252.

    Parameters
    ----------
    path
        The file.
    what
        What the file is (``"pairs"``, ``"previous layout"``), for the message
        when it does not exist: ``"the pairs file does not exist"``; without
        it, ``"file not found"``.

    Raises
    ------
    InputError
        Naming the file: when it does not exist, cannot be read, or is not text.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        message = f"the {what} file does not exist" if what else "file not found"
        raise InputError(message, file=str(path), fix="check the path") from None
    except IsADirectoryError:
        raise InputError(
            "cannot read it: it is a folder, not a file", file=str(path), fix="give a file"
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read it ({exc.strerror or exc})", file=str(path), fix="check the file"
        ) from None
    return decode(data, str(path))


def read_csv_text(path: str | Path, *, what: str | None = None, **options: Any) -> pd.DataFrame:
    """A CSV file as a frame of text cells, decoded by :func:`read_text`.

    Every cell is text and empty cells stay ``""`` unless ``options`` (passed
    to :func:`pandas.read_csv`, e.g. ``sep``) say otherwise. A file pandas
    cannot parse (empty, ragged quoting) raises :class:`InputError` naming it.
    """
    text = read_text(path, what=what)
    options = {"dtype": str, "keep_default_na": False, **options}
    try:
        return pd.read_csv(io.StringIO(text), **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        name = f"the {what} file" if what else "the file"
        raise InputError(
            f"{name} cannot be read as CSV: {exc}", file=str(path), fix="check the file is CSV"
        ) from None
