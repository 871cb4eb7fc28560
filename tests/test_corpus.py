"""The corpus of messy and hostile inputs (``tests/corpus/``): each gets a checked layout
or a one-line error naming the file (and row and column where there is one) with a fix.

Every case runs the command line as a user would (``clustering form FILE --out DIR``):
an error exits 2 with one line on standard error, no traceback and no output folder;
a layout exits 0, passes the checker, and lists every row of the input exactly once in
``assignments.csv`` — in a cluster, or excluded with its reason.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from clustering.cli import main

CORPUS = Path(__file__).parent / "corpus"
FAST = ["--time-limit", "1", "--quiet"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the corpus (scenarios name their data relative to themselves)."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main([*args])
    err = capsys.readouterr().err
    return code, err


def _input_ids(path: Path) -> list[str]:
    """The ids of a corpus file, read independently of the package (stdlib csv)."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    delimiter = ";" if path.name.startswith("semicolon") else ("\t" if ".txt" in path.name else ",")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    at = next(k for k, r in enumerate(rows) if r and r[0] in {"id", "school_id"})
    return [r[0] for r in rows[at + 1 :] if any(c.strip() for c in r)]


# file, extra flags, what the one error line must contain
ERRORS = [
    ("empty.csv", [], ["the file is empty"]),
    ("header_only.csv", [], ["no rows"]),
    ("space_separated.txt", [], ["no id column", "separated by spaces"]),
    ("html_saved_as.csv", [], ["web page (HTML)"]),
    ("binary_garbage.csv", [], ["not text"]),
    ("utf16.csv", [], ["UTF-16"]),
    ("duplicate_ids.csv", [], ["row 33", "column 'id'", "'571012' appears on rows 6, 33"]),
    ("panel_of_two_years.csv", [], ["appears on rows 2, 33", "differ in 'year'", "'2016-17'"]),
    ("ids_differ_by_case_or_space.csv", [], ["row 3", "'WC 01'", "'wc01'", "capitals or spaces"]),
    ("empty_id.csv", [], ["row 10", "column 'id'", "empty"]),
    ("latitude_out_of_range.csv", [], ["row 14", "column 'lat'", "137.1", "swapped"]),
    ("text_in_coordinates.csv", [], ["row 9", "column 'lon'", "'86.4 W' is not a number"]),
    ("negative_pupils.csv", [], ["row 4", "column 'pupils'", "negative"]),
    ("ragged_row.csv", [], ["row 7", "9 cells", "7 columns"]),
    ("unclosed_quote.csv", [], ["row 10", "never closed"]),
    ("one_school.csv", [], ["only 1 centre(s)", "--min-size 1"]),
    ("five_schools.csv", [], ["only 5 centre(s)", "--min-size 5"]),
    ("no_coordinate_columns.csv", [], ["no coordinate columns"]),
    ("metres_without_crs.csv", [], ["column 'x'", "--crs EPSG:27700"]),
    ("clean.csv", ["--only", "phase in primary"], ["names no column", "columns: centre_id"]),
]

SCENARIO_ERRORS = [
    ("scenario_unknown_column.toml", ["clean.csv", "'school_code'", "is not in the file"]),
    ("scenario_contradictory_sizes.toml", ["sizes.max", "below sizes.min"]),
    ("scenario_contradictory_count.toml", ["10 clusters are impossible", "only 3 cluster(s)"]),
    ("scenario_must_link_too_big.toml", ["5 centres must share one cluster", "at most 3"]),
    ("scenario_malformed.toml", ["scenario_malformed.toml", "not valid TOML", "line 3"]),
    ("scenario_wrong_type.toml", ["sizes.min", "'eight' is not a whole number"]),
    ("scenario_unknown_key.toml", ["sizes.minimum", "unknown key"]),
    ("scenario_rule_unknown_column.toml", ["'phase in Primary'", "names no column"]),
]


def _assert_one_line_error(code: int, err: str, parts: list[str], out: Path) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    assert not out.exists(), "an error must leave no output folder"


@pytest.mark.parametrize(("name", "flags", "parts"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_file_gives_one_line_naming_the_problem(corpus, capsys, name, flags, parts):
    out = corpus.parent / "out"
    code, err = _run([*["form", str(corpus / name), "--out", str(out)], *flags, *FAST], capsys)
    _assert_one_line_error(code, err, parts, out)
    if "row " in " ".join(parts) or "not text" in " ".join(parts):
        assert name in err  # the file is named


@pytest.mark.parametrize(("name", "parts"), SCENARIO_ERRORS, ids=[e[0] for e in SCENARIO_ERRORS])
def test_bad_scenario_gives_one_line(corpus, capsys, name, parts):
    out = corpus.parent / "out"
    code, err = _run(["form", "--scenario", str(corpus / name), "--out", str(out), *FAST], capsys)
    _assert_one_line_error(code, err, parts, out)


def _layout(corpus: Path, capsys, args: list[str]) -> tuple[pd.DataFrame, str, Path]:
    out = corpus.parent / "out"
    code, err = _run([*args, "--out", str(out), "--time-limit", "1"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run.get("checker", run.get("stats", {}).get("checker")) == "passed", run
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    return table, err, out


def _every_row_once(table: pd.DataFrame, ids: list[str]) -> None:
    assert sorted(table["centre_id"]) == sorted(ids)
    placed = table["cluster"] != ""
    assert (placed ^ (table["excluded_reason"] != "")).all()


# file, extra flags, {id: part of its exclusion reason}, part of the loading notes
LAYOUTS = [
    ("clean.csv", [], {}, None),
    ("r_export_na.csv", [], {"571100": "no coordinates"}, "9 cell(s) marked NA"),
    ("semicolon_decimal_comma.csv", [], {}, "semicolon-separated, decimal comma"),
    ("tab_separated.txt", [], {}, "tab-separated"),
    ("bom.csv", [], {}, None),
    ("cp1252.csv", [], {}, None),
    ("mixed_encodings.csv", [], {}, None),
    ("title_rows.csv", [], {}, "the header is row 4"),
    ("quoted_line_breaks.csv", [], {}, None),
    ("gis_point_x_y.csv", [], {}, None),
    ("lng_latitude.csv", [], {}, None),
    ("leading_zero_ids.csv", [], {}, None),
    ("missing_coordinates.csv", [], {"571010": "no coordinates", "571020": "no coordinates"}, None),
    ("swapped_one_row_out_of_range.csv", [], {"571015": "swapped"}, None),
    ("out_of_country.csv", [], {"571016": "km from the other centres", "571030": "0, 0"}, None),
    ("all_at_one_point.csv", [], {}, None),
    ("text_in_numeric_attribute.csv", [], {}, "'about half' on row 5"),
    (
        "directory_with_offices.csv",
        ["--only", "type in A1, A5, A6"],
        {"999001": "not taking part", "999002": "not taking part", "571001": "not taking part"},
        None,
    ),
]


@pytest.mark.parametrize(("name", "flags", "reasons", "note"), LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_messy_file_gives_a_checked_layout_losing_nobody(
    corpus, capsys, name, flags, reasons, note
):
    args = ["form", str(corpus / name), *flags]
    if note is None:
        args.append("--quiet")
    table, err, _ = _layout(corpus, capsys, args)
    _every_row_once(table, _input_ids(corpus / name))
    excluded = table[table["excluded_reason"] != ""].set_index("centre_id")["excluded_reason"]
    assert set(excluded.index) == set(reasons), excluded.to_dict()
    for cid, part in reasons.items():
        assert part in excluded[cid]
    if note is not None:
        assert note in " ".join(err.split()), err


def test_ids_keep_their_leading_zeros(corpus, capsys):
    table, _, _ = _layout(corpus, capsys, ["form", str(corpus / "leading_zero_ids.csv"), "--quiet"])
    assert table["centre_id"].str.startswith("00").all()


def test_names_keep_their_accents_in_every_encoding(corpus, capsys):
    for name in ("cp1252.csv", "mixed_encodings.csv"):
        table, _, out = _layout(corpus, capsys, ["form", str(corpus / name), "--quiet"])
        names = set(table["name"])
        assert {"École Sainte-Thérèse", "Café Lane Primary – Annexe"} <= names, name
        shutil.rmtree(out)


def test_scenario_participation_rule(corpus, capsys):
    table, _, _ = _layout(
        corpus, capsys, ["form", "--scenario", str(corpus / "scenario_only.toml")]
    )
    excluded = table[table["excluded_reason"] != ""]
    assert set(excluded["centre_id"]) == {"999001", "999002", "571001"}


# ---------------------------------------------------------------- generated inputs


def _schools() -> pd.DataFrame:
    return pd.read_csv(CORPUS / "clean.csv", dtype=str, keep_default_na=False)


def test_excel_title_rows_merged_headers_and_sheets(tmp_path, capsys):
    from openpyxl import Workbook

    schools = _schools()
    book = Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["About this workbook"])
    notes.append(["Schools are on the sheet 'Schools 2016-17'"])
    sheet = book.create_sheet("Schools 2016-17")
    sheet.append(["Warren County schools"])  # a title row
    sheet.append(["School", None, "Location", None, "Pupils", None, None])  # merged labels
    sheet.merge_cells("A2:B2")
    sheet.merge_cells("C2:D2")
    sheet.append(list(schools.columns))
    for row in schools.itertuples(index=False):
        sheet.append([float(v) if k in (2, 3) else v for k, v in enumerate(row)])
    path = tmp_path / "schools.xlsx"
    book.save(path)
    out = tmp_path / "out"
    code, err = _run(["form", str(path), "--out", str(out), "--time-limit", "1"], capsys)
    assert code == 0, err
    assert "sheet 'Schools 2016-17'" in " ".join(err.split())
    assert "header is row 3" in " ".join(err.split())
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    _every_row_once(table, list(schools["id"]))
    # a sheet named that does not exist: the error lists the sheets
    code, err = _run(
        ["form", str(path), "--sheet", "Schools", "--out", str(tmp_path / "o2")], capsys
    )
    _assert_one_line_error(
        code, err, ["no sheet 'Schools'", "'Notes', 'Schools 2016-17'"], tmp_path / "o2"
    )
    # naming a sheet without centres: no id column
    code, err = _run(["form", str(path), "--sheet", "Notes", "--out", str(tmp_path / "o3")], capsys)
    _assert_one_line_error(code, err, ["no id column"], tmp_path / "o3")


def test_too_many_rows_are_refused_clearly(tmp_path, capsys):
    rows = 100_000
    path = tmp_path / "national.csv"
    lines = ["id,lat,lon"] + [f"{k},{50 + k % 100 / 100},{-1 - k % 97 / 100}" for k in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code, err = _run(["form", str(path), "--out", str(out)], capsys)
    _assert_one_line_error(code, err, ["100,000 rows", "more than the", "split it by area"], out)
