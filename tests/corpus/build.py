"""Write the corpus of messy and hostile input files in this folder.

Run ``python tests/corpus/build.py`` after changing it; the files are committed so
a reviewer can open each one. The schools are the 31 of Warren County, Kentucky
from ``data/sample/kentucky_schools_2016_17.csv`` (public data; see
``data/sample/README.md``), written the ways real exports write them.
``tests/test_corpus.py`` says what each file must give. Files too big or too
binary to commit (100,000 rows, Excel workbooks) are made by that test.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def schools() -> pd.DataFrame:
    """Warren County's schools with generic column names, ids as written (leading zeros)."""
    raw = pd.read_csv(ROOT / "data/sample/kentucky_schools_2016_17.csv", dtype=str)
    raw = raw[raw["dist_name"] == "Warren County"].reset_index(drop=True)
    return pd.DataFrame(
        {
            "id": raw["sch_id"],
            "name": raw["sch_name"],
            "lat": raw["lat"],
            "lon": raw["long"],
            "pupils": raw["enroll"].str.replace(".0", "", regex=False),
            "type": raw["sch_type"],
            "frl_pct": raw["frpl_pct"],
        }
    )


def _csv(frame: pd.DataFrame, **options) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", **options)
    return buffer.getvalue()


def _write(name: str, text: str | bytes, encoding: str = "utf-8") -> None:
    path = HERE / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode(encoding))


def build() -> None:
    base = schools()
    _write("clean.csv", _csv(base))
    # --- files that must give a layout
    r = base.copy()
    r.loc[[2, 7], "frl_pct"] = "NA"
    r.loc[4, "pupils"] = "NA"
    r.loc[5, "frl_pct"] = "SUPP"
    r.loc[9, "frl_pct"] = "x"
    r.loc[11, "pupils"] = "N/A"
    r.loc[12, "frl_pct"] = ".."
    r.loc[[14], ["lat", "lon"]] = "NA"  # no coordinates: excluded with the reason
    _write("r_export_na.csv", _csv(r, quoting=csv.QUOTE_NONNUMERIC))
    semi = base.copy()
    for col in ("lat", "lon", "frl_pct"):
        semi[col] = semi[col].str.replace(".", ",", regex=False)
    _write("semicolon_decimal_comma.csv", _csv(semi, sep=";"))
    _write("tab_separated.txt", _csv(base, sep="\t"))
    _write("bom.csv", _csv(base), encoding="utf-8-sig")
    accents = base.copy()
    accents.loc[0, "name"] = "École Sainte-Thérèse"
    accents.loc[1, "name"] = "Café Lane Primary – Annexe"
    _write("cp1252.csv", _csv(accents), encoding="cp1252")
    lines = _csv(accents).split("\n")
    mixed = b"\n".join(line.encode("cp1252" if k % 2 else "utf-8") for k, line in enumerate(lines))
    _write("mixed_encodings.csv", mixed)
    _write(
        "title_rows.csv",
        "Warren County schools, 2016-17\nSource: Kentucky School Report Card\n\n" + _csv(base),
    )
    multi = base.copy()
    multi.loc[3, "name"] = "Line one\nline two school"
    multi.loc[6, "name"] = 'The "Quoted" Academy, Bowling Green'
    _write("quoted_line_breaks.csv", _csv(multi))
    gis = base.rename(columns={"lon": "POINT_X", "lat": "POINT_Y", "id": "FID_code"})
    gis = gis[["FID_code", "name", "POINT_X", "POINT_Y", "pupils", "type"]]
    _write("gis_point_x_y.csv", _csv(gis.rename(columns={"FID_code": "school_id"})))
    lng = base.rename(columns={"lon": "lng", "lat": "latitude"})
    _write("lng_latitude.csv", _csv(lng))
    lead = base.copy()
    lead["id"] = "00" + lead["id"].str[-4:]  # ids such as 001010 must keep their zeros
    _write("leading_zero_ids.csv", _csv(lead))
    missing = base.copy()
    missing.loc[[3, 8], ["lat", "lon"]] = ""
    _write("missing_coordinates.csv", _csv(missing))
    swapped = base.copy()
    swapped.loc[5, ["lat", "lon"]] = swapped.loc[5, ["lon", "lat"]].to_numpy()
    _write("swapped_one_row_out_of_range.csv", _csv(swapped))
    far = base.copy()
    far.loc[6, ["lat", "lon"]] = ["37.0", "85.9"]  # the minus sign dropped: Tibet
    far.loc[9, ["lat", "lon"]] = ["0", "0"]
    _write("out_of_country.csv", _csv(far))
    same = base.copy()
    same["lat"], same["lon"] = "36.99", "-86.44"
    _write("all_at_one_point.csv", _csv(same))
    text_num = base.copy()
    text_num.loc[3, "frl_pct"] = "about half"
    text_num.loc[4, "frl_pct"] = "NaN"
    text_num.loc[6, "pupils"] = "1,204"
    text_num.loc[7, "frl_pct"] = "55.5%"
    _write("text_in_numeric_attribute.csv", _csv(text_num))
    directory = base.copy()
    directory.loc[len(directory)] = [
        "999001",
        "Warren County Board Office",
        "36.98",
        "-86.45",
        "",
        "District office",
        "",
    ]
    directory.loc[len(directory)] = [
        "999002",
        "Green River Cooperative",
        "36.97",
        "-86.47",
        "",
        "Agency",
        "",
    ]
    _write("directory_with_offices.csv", _csv(directory))
    # --- files that must give a clear error
    _write("empty.csv", "")
    _write("header_only.csv", "id,name,lat,lon,pupils\n")
    _write("space_separated.txt", _csv(base[["id", "lat", "lon"]], sep=" "))
    _write(
        "html_saved_as.csv",
        "<!DOCTYPE html>\n<html><head><title>School finder</title></head>\n"
        "<body><table><tr><td>id</td><td>name</td></tr></table></body></html>\n",
    )
    _write("binary_garbage.csv", bytes(range(256)) * 8)
    _write("utf16.csv", _csv(base).encode("utf-16"))
    dup = pd.concat([base, base.iloc[[4]]], ignore_index=True)
    _write("duplicate_ids.csv", _csv(dup))
    years = pd.concat([base.assign(year="2015-16"), base.assign(year="2016-17")])
    _write("panel_of_two_years.csv", _csv(years))
    case = base.copy()
    case.loc[0, "id"] = "WC 01"
    case.loc[1, "id"] = "wc01"
    _write("ids_differ_by_case_or_space.csv", _csv(case))
    empty_id = base.copy()
    empty_id.loc[8, "id"] = ""
    _write("empty_id.csv", _csv(empty_id))
    lat_out = base.copy()
    lat_out.loc[10, ["lat", "lon"]] = ["-86.44", "36.99"]  # swapped: latitude -86 is valid...
    lat_out.loc[12, "lat"] = "137.1"  # ...but 137 is not
    _write("latitude_out_of_range.csv", _csv(lat_out))
    text_coord = base.copy()
    text_coord.loc[7, "lon"] = "86.4 W"
    _write("text_in_coordinates.csv", _csv(text_coord))
    neg = base.copy()
    neg.loc[2, "pupils"] = "-30"
    _write("negative_pupils.csv", _csv(neg))
    text = _csv(base).split("\n")
    text[6] = text[6] + ",extra,cells"
    _write("ragged_row.csv", "\n".join(text))
    text = _csv(base).split("\n")
    text[9] = text[9].replace(",", ',"', 1)
    _write("unclosed_quote.csv", "\n".join(text))
    _write("one_school.csv", _csv(base.head(1)))
    _write("five_schools.csv", _csv(base.head(5)))
    _write("no_coordinate_columns.csv", _csv(base[["id", "name", "pupils"]]))
    bng = base.rename(columns={"lat": "y", "lon": "x"})
    bng["x"], bng["y"] = "420000", "130000"  # metres, but no CRS given
    _write("metres_without_crs.csv", _csv(bng))
    # scenarios
    _write(
        "scenario_unknown_column.toml",
        '[data]\ncentres = "clean.csv"\n\n[data.columns]\nid = "school_code"\n',
    )
    _write(
        "scenario_contradictory_sizes.toml",
        '[data]\ncentres = "clean.csv"\n\n[sizes]\nmin = 12\nmax = 8\n',
    )
    _write(
        "scenario_contradictory_count.toml",
        '[data]\ncentres = "clean.csv"\n\n[sizes]\nmin = 8\nmax = 12\nclusters = 10\n',
    )
    _write(
        "scenario_must_link_too_big.toml",
        '[data]\ncentres = "clean.csv"\n\n[sizes]\nmin = 2\nmax = 3\n\n[constraints]\n'
        "must_link = [[" + ", ".join(f'"{i}"' for i in base["id"].head(5)) + "]]\n",
    )
    _write(
        "scenario_malformed.toml",
        '[data]\ncentres = "clean.csv"\n[sizes\nmin = 8\n',
    )
    _write(
        "scenario_wrong_type.toml",
        '[data]\ncentres = "clean.csv"\n\n[sizes]\nmin = "eight"\n',
    )
    _write(
        "scenario_unknown_key.toml",
        '[data]\ncentres = "clean.csv"\n\n[sizes]\nminimum = 8\n',
    )
    _write(
        "scenario_rule_unknown_column.toml",
        '[data]\ncentres = "clean.csv"\n\n[constraints]\nonly = "phase in Primary"\n',
    )
    _write(
        "scenario_only.toml",
        '[data]\ncentres = "directory_with_offices.csv"\n\n[sizes]\nmin = 8\nmax = 12\n\n'
        '[constraints]\nonly = "type in A1, A5, A6"\n',
    )


if __name__ == "__main__":
    build()
