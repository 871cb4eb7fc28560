"""Rebuild the bundled sample files from the full public extracts.

Not needed at run time: the trimmed outputs are committed beside this script.
Run from the repository root with the folder holding the full extracts::

    python data/sample/prepare.py ../shared/data

It reads only the standard library so it runs before the project is installed.
Besides trimming, it derives two things for the scenarios of ``data/sample``:
the ``affiliations`` column of the English files (diocese; trust) and
``hampshire_partnerships.csv`` (pairs of open Hampshire schools in one federation).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

GIAS_COLUMNS = [
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (name)",
    "CloseDate",
    "PhaseOfEducation (name)",
    "StatutoryLowAge",
    "StatutoryHighAge",
    "Gender (name)",
    "ReligiousCharacter (name)",
    "Diocese (name)",
    "SchoolCapacity",
    "NumberOfPupils",
    "PercentageFSM",
    "Trusts (name)",
    "Federations (name)",
    "Town",
    "Postcode",
    "DistrictAdministrative (name)",
    "UrbanRural (name)",
    "Easting",
    "Northing",
    "LSOA (code)",
    "OfstedRating (name)",
    "Linked establishments",
]
IMD_COLUMNS = {"IMD_decile": "IMD decile (2019)", "IMD_rank": "IMD rank (2019)"}
#: a derived multi-valued column (for ``[objective.themes]``): diocese; trust
AFFILIATIONS = "affiliations"
#: GIAS cells that mean "none" in the diocese and trust columns
NO_AFFILIATION = {"", "not applicable", "does not apply", "none"}

KY_COLUMNS = [
    "sch_id",
    "nces_id",
    "dist_name",
    "sch_name",
    "coop",
    "long",
    "lat",
    "sch_type",
    "grade_low",
    "grade_high",
    "title1",
    "enroll",
    "frpl_pct",
]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path.relative_to(HERE.parent.parent)}: {len(rows)} rows")


def affiliations(row: dict[str, str]) -> str:
    """Diocese and trust joined with "; "; empty, none and "Not applicable" dropped."""
    found = [row[c].strip() for c in ("Diocese (name)", "Trusts (name)")]
    return "; ".join(v for v in found if v.lower() not in NO_AFFILIATION)


def _federation_names(cell: str) -> set[str]:
    """Federation names of a GIAS ``Federations (name)`` cell.

    A few cells hold several entries separated by ``~`` (e.g. "The Meon Valley
    Federation~Meonstoke CE Infant School~Meon Valley Federation"); names are
    compared ignoring case and a leading "The ".
    """
    out = set()
    for part in cell.split("~"):
        name = " ".join(part.split()).lower()
        name = name[4:] if name.startswith("the ") else name
        if name:
            out.add(name)
    return out


def federation_pairs(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every pair of open schools that share a federation name (URNs, smaller first)."""
    members: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["EstablishmentStatus (name)"] != "Open":
            continue
        for name in _federation_names(row["Federations (name)"]):
            members[name].append(row["URN"])
    pairs: set[tuple[str, str]] = set()
    for urns in members.values():
        urns = sorted(set(urns), key=int)
        pairs |= {(a, b) for i, a in enumerate(urns) for b in urns[i + 1 :]}
    return [
        {"centre_a": a, "centre_b": b}
        for a, b in sorted(pairs, key=lambda p: (int(p[0]), int(p[1])))
    ]


def england(src: Path) -> None:
    gias = _read(src / "england" / "gias_20220420_hampshire850_surrey936_clean.csv")
    imd = {r["lsoa11_code"]: r for r in _read(src / "england" / "imd2019_england_lsoa11.csv")}
    for row in gias:
        found = imd.get(row["LSOA (code)"], {})
        for old, new in IMD_COLUMNS.items():
            value = found.get(old, "")
            row[new] = str(int(float(value))) if value else ""
        row[AFFILIATIONS] = affiliations(row)
    columns = [*GIAS_COLUMNS, *IMD_COLUMNS.values(), AFFILIATIONS]
    for la, name in [("Hampshire", "hampshire"), ("Surrey", "surrey")]:
        rows = [r for r in gias if r["LA (name)"] == la]
        _write(HERE / f"{name}_primary_schools_2022.csv", rows, columns)
        if name == "hampshire":
            # existing partnerships for [partnerships]: schools federated under one governing body
            _write(
                HERE / "hampshire_partnerships.csv",
                federation_pairs(rows),
                ["centre_a", "centre_b"],
            )


def kentucky(src: Path) -> None:
    schools = _read(src / "kentucky" / "ky_schools_2016_17_merged.csv")
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    for r in _read(src / "kentucky" / "kysrc_race_sch_2016_17.csv"):
        if r["s_count"]:
            counts[r["sch_id"]][r["race"]] = float(r["s_count"])
    for row in schools:
        by_race = counts.get(row["sch_id"], {})
        total = sum(by_race.values())
        if total > 0:
            # Simpson's diversity: chance two pupils drawn at random differ in ethnicity.
            simpson = 1.0 - sum((c / total) ** 2 for c in by_race.values())
            row["ethnic_diversity"] = f"{simpson:.4f}"
            row["pct_white"] = f"{100 * by_race.get('White', 0.0) / total:.1f}"
        else:
            row["ethnic_diversity"] = ""
            row["pct_white"] = ""
        if row["frpl_pct"]:
            row["frpl_pct"] = f"{100 * float(row['frpl_pct']):.1f}"
    columns = [*KY_COLUMNS, "ethnic_diversity", "pct_white"]
    _write(HERE / "kentucky_schools_2016_17.csv", schools, columns)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    src = Path(argv[1])
    england(src)
    kentucky(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
