"""Read a table of centres as it comes: CSV of any common delimiter, Excel, spatial files.

Real files are not tidy. :func:`read_table` copes with what officers' exports
hold and says clearly what it cannot read:

* **delimiters** — comma, semicolon, tab or pipe, sniffed from the header line
  (a semicolon file's numbers may use a decimal comma: ``frame.attrs["decimal"]``);
* **title rows** above the header (a report title, a date, a blank line): the
  header is the first of the top rows that names an id and coordinates;
* **quoted cells with line breaks**; a quote that is never closed is an error
  naming the line where it opened;
* **ragged rows**: a row with more cells than the header is an error naming
  it (an unquoted comma inside a name, usually); shorter rows are padded;
* **Excel workbooks** with several sheets (pick one by name; without a name,
  the first sheet that holds centres) and merged header cells above the header.

Every cell is read as text; :mod:`clustering.input.load` decides what is a number.
The frame's index is the row as a spreadsheet shows it, minus 2 (the header
is row 1 when there are no title rows), so errors can name the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..errors import InputError
from .schemas import GENERIC_NAMES, SCHEMAS, normalise_name
from .textfile import read_text

__all__ = ["MAX_ROWS", "find_header", "read_table", "sniff_delimiter"]

#: delimiters :func:`sniff_delimiter` chooses from, in order of preference on a tie
DELIMITERS = (",", ";", "\t", "|")
#: how many top rows may sit above the header (titles, notes, merged group labels)
HEADER_SEARCH_ROWS = 20
#: the most rows a centres file (or frame, :data:`clustering.api.form.MAX_CENTRES`) may
#: hold; larger ones are refused before anything is built. Twice England's ~24,000
#: schools; measured up to 24,029 (0.77 GB for ``clustering form`` with baselines and
#: explanations, bench/README.md "Time limits and memory at national scale")
MAX_ROWS = 50_000

_CSV_FIX = "save it as CSV (comma, semicolon or tab separated) with one header row"


def sniff_delimiter(text: str) -> str:
    """The delimiter of CSV ``text``: the one of :data:`DELIMITERS` its header line uses most.

    Delimiters inside quotes do not count; a header with none of them (a
    one-column file) is comma separated.

    >>> sniff_delimiter('URN;Name;Lat;Lon\\n1;"A; B";51,2;-1,3\\n')
    ';'
    >>> sniff_delimiter("id\\tname\\n")
    '\\t'
    """
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in text[:65536]:
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            if any(counts.values()):
                break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on a tie
    return best if counts[best] else ","


def _is_header(cells: Sequence[object]) -> bool:
    """Whether a row names an id column and coordinates, as a known or generic schema."""
    names = [str(c).strip() for c in cells if isinstance(c, str) and str(c).strip()]
    if not names:
        return False
    present = set(names)
    if any(all(c in present for c in s.detect) for s in SCHEMAS):
        return True
    normal = {normalise_name(n) for n in names}

    def has(field: str) -> bool:
        return any(n in normal for n in GENERIC_NAMES[field])

    placed = (has("lat") and has("lon")) or (has("x") and has("y"))
    return has("id") and placed


def find_header(rows: Sequence[Sequence[object]]) -> int:
    """The index of the header among the first rows: the first that names an id and coordinates.

    When none of the first :data:`HEADER_SEARCH_ROWS` rows does, the first
    row that is not blank (the loader then says which columns are missing).

    >>> find_header([["Schools in Ruralshire, 2024"], [], ["id", "name", "lat", "lon"]])
    2
    """
    top = list(rows[:HEADER_SEARCH_ROWS])
    for k, row in enumerate(top):
        if _is_header(row):
            return k
    for k, row in enumerate(top):
        if any(str(c).strip() for c in row if c is not None and not pd.isna(c)):
            return k
    return 0


def _csv_rows(text: str, delimiter: str, file: str) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            # a stray quote inside a cell ('"St John" Primary'): read it as Excel does
            return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    # a quote opened and never closed: find the line where it opened
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = start = 1
    for _ in reader:  # the last record is the one that swallowed the rest
        line, start = start, reader.line_num + 1
    raise InputError(
        'a quote (") opened on this line is never closed, so the rest of the file is one cell',
        file=file,
        row=line,
        fix='close the quote, or remove it (quote whole cells only: "Smith, Jones School")',
    )


def _frame(rows: list[list[object]], header_at: int, file: str, *, ragged: bool) -> pd.DataFrame:
    """A frame of text from ``rows``, the header at ``header_at``; index = spreadsheet row − 2."""
    header = ["" if c is None or pd.isna(c) else str(c).strip() for c in rows[header_at]]
    while header and not header[-1]:
        header.pop()  # trailing empty header cells (a trailing delimiter)
    if not header:
        raise InputError("the file has no header row", file=file, fix=_CSV_FIX)
    width = len(header)
    body = rows[header_at + 1 :]
    if len(body) > MAX_ROWS:
        raise InputError(
            f"the file has {len(body):,} rows, more than the {MAX_ROWS:,} supported",
            file=file,
            fix="split it by area (one file per local authority or state) or take a sample",
        )
    data: list[list[str]] = []
    if ragged and all(len(row) == width for row in body):  # CSV text as it usually is
        data = body  # type: ignore[assignment]
        body = []
    for k, row in enumerate(body):
        cells = ["" if c is None or (not isinstance(c, str) and pd.isna(c)) else c for c in row]
        if len(cells) > width:
            extra = cells[width:]
            if ragged and any(str(c).strip() for c in extra):
                raise InputError(
                    f"the row has {len(cells)} cells but the header names {width} columns",
                    file=file,
                    row=header_at + k + 2,
                    column=None,
                    fix='quote cells that contain the delimiter ("Smith, Jones School"), '
                    "or add the missing column names to the header",
                )
            cells = cells[:width]
        data.append([str(c) for c in cells] + [""] * (width - len(cells)))
    names = _unique_names(header)
    frame = pd.DataFrame(data, columns=names, dtype=object)
    frame.index = pd.RangeIndex(header_at, header_at + len(frame))
    blank = pd.Series(True, index=frame.index)
    for col in frame.columns:
        blank &= frame[col].str.strip() == ""
        if not blank.any():
            break
    return frame.loc[~blank]


def _unique_names(header: list[str]) -> list[str]:
    """Header names made unique and non-empty, as pandas does (``Unnamed: 3``, ``name.1``)."""
    seen: dict[str, int] = {}
    out = []
    for k, name in enumerate(header):
        name = name or f"Unnamed: {k}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _read_csv(path: Path, delimiter: str | None) -> pd.DataFrame:
    file = str(path)
    text = read_text(path)
    if not text.strip():
        raise InputError("the file is empty", file=file, fix="give a file with a header row")
    head = text.lstrip()[:512].lower()
    if head.startswith(("<!doctype", "<html", "<?xml", "<table")):
        raise InputError(
            "the file is a web page (HTML), not CSV",
            file=file,
            fix="download the data itself (often a 'CSV' or 'Download' link on the page)",
        )
    delimiter = delimiter or sniff_delimiter(text)
    rows = _csv_rows(text, delimiter, file)
    at = find_header(rows)
    frame = _frame(rows, at, file, ragged=True)
    frame.attrs["delimiter"] = delimiter
    frame.attrs["decimal"] = "," if delimiter == ";" else "."
    frame.attrs["header_row"] = at + 1
    return frame


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    file = str(path)
    try:
        book = pd.ExcelFile(path)
    except ImportError as exc:  # e.g. old .xls files need a reader that is not installed
        raise InputError(
            f"cannot be read here ({exc})", file=file, fix="save it as .xlsx or .csv"
        ) from exc
    except Exception as exc:  # openpyxl raises its own errors on damaged files
        raise InputError(
            f"cannot be read as a workbook ({exc})", file=file, fix="save it again as .xlsx"
        ) from exc
    with book:
        names = [str(s) for s in book.sheet_names]
        if sheet is not None and not isinstance(sheet, int) and str(sheet) not in names:
            raise InputError(
                f"the workbook has no sheet {sheet!r}",
                file=file,
                fix=f"use one of its sheets: {', '.join(map(repr, names))}",
            )
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise InputError(
                f"the workbook has {len(names)} sheet(s), so there is no sheet {sheet}",
                file=file,
                fix=f"use one of its sheets: {', '.join(map(repr, names))}",
            )
        wanted = names
        if sheet is not None:
            wanted = [names[sheet] if isinstance(sheet, int) else str(sheet)]
        for name in wanted:
            raw = pd.read_excel(
                book, sheet_name=name, header=None, dtype=str, keep_default_na=False
            )
            rows = raw.to_numpy(dtype=object).tolist()
            if not rows:
                continue
            at = find_header(rows)
            if sheet is not None or _is_header(rows[at]) or len(names) == 1:
                frame = _frame(rows, at, f"{file} (sheet {name!r})", ragged=False)
                frame.attrs["sheet"] = name
                frame.attrs["header_row"] = at + 1
                frame.attrs["decimal"] = "."
                return frame
    if sheet is not None or len(names) == 1:
        raise InputError("the sheet is empty", file=file, fix="give a sheet with a header row")
    raise InputError(
        f"none of the workbook's sheets ({', '.join(map(repr, names))}) has a header naming "
        "an id and coordinates",
        file=file,
        fix="pick the sheet (--sheet NAME) and map its columns (--column id=COLUMN ...)",
    )


def read_table(
    path: str | Path, *, sheet: str | int | None = None, delimiter: str | None = None
) -> pd.DataFrame:
    """Read a CSV, Excel, GeoJSON or GeoPackage file with every column as text.

    Parameters
    ----------
    path
        The file: ``.csv``/``.txt``/``.tsv`` (UTF-8 with or without a byte-order
        mark, or cp1252), ``.xlsx``/``.xlsm``, or a spatial file
        (``.geojson``, ``.gpkg``, ``.shp``, ``.fgb``, which return a GeoDataFrame).
    sheet
        The sheet of a workbook, by name or position; without it, the first
        sheet whose header names an id and coordinates.
    delimiter
        The CSV delimiter; sniffed from the header line when not given.

    Raises
    ------
    InputError
        Naming the file (and row): missing, empty, not a table, an HTML page,
        an unclosed quote, a ragged row, an unknown sheet, more than
        :data:`MAX_ROWS` rows.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path), fix="check the path")
    if path.is_dir():
        raise InputError("it is a folder, not a file", file=str(path), fix="give a file")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        return _read_csv(path, "\t" if suffix == ".tsv" and delimiter is None else delimiter)
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return _read_excel(path, sheet)
    if suffix in {".geojson", ".json", ".gpkg", ".shp", ".fgb"}:
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises its own errors
            raise InputError(
                f"cannot be read as a spatial file: {exc}",
                file=str(path),
                fix="check the file is not damaged",
            ) from exc
        if len(frame) > MAX_ROWS:
            raise InputError(
                f"the file has {len(frame):,} features, more than the {MAX_ROWS:,} supported",
                file=str(path),
                fix="split it by area or take a sample",
            )
        return frame
    raise InputError(
        f"unsupported file type {suffix or '(none)'}",
        file=str(path),
        fix="use .csv, .xlsx, .geojson or .gpkg",
    )
