"""Property: any bytes given as a centres file give centres or a clear error, never a crash.

Hypothesis writes files a user might: known and unknown headers, any of four delimiters,
quotes and line breaks inside cells, missing-value markers, text in number columns,
blank and ragged lines, three encodings, title rows, random bytes. :func:`load_centres`
must return centres that lose no row (each placed or excluded with a reason, ids
unique) or raise :class:`~clustering.InputError` naming the file. The number of
examples follows the Hypothesis profile (``HYPOTHESIS_PROFILE=thorough`` for thousands).
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clustering import InputError, load_centres

HEADERS = ["id", "name", "lat", "lon", "pupils", "type", "fsm_pct", "URN", "x", "y", "notes"]
MARKERS = ["NA", "N/A", "n/a", "NULL", "-", "SUPP", "x", "c", "..", "", " ", "NaN"]
PLAUSIBLE_LAT = st.floats(50.0, 51.0).map(lambda v: f"{v:.4f}")
PLAUSIBLE_LON = st.floats(-2.0, -1.0).map(lambda v: f"{v:.4f}")
cells = st.one_of(
    st.sampled_from(MARKERS),
    st.floats(-200, 200, allow_nan=False).map(lambda v: f"{v:.5f}"),
    st.floats(50.0, 51.0).map(lambda v: f"{v:.4f}"),
    st.floats(-2.0, -1.0).map(lambda v: f"{v:.4f}"),
    st.integers(-5, 2000).map(str),
    st.text(alphabet=st.characters(codec="cp1252", exclude_characters="\x00"), max_size=12),
    st.sampled_from(['"quoted, comma"', "line\nbreak", 'a "b" c', "=SUM(A1)", "École"]),
)


@st.composite
def tables(draw) -> tuple[bytes, int]:
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=7))
    if draw(st.booleans()):
        header = ["id", "lat", "lon", *header]
    n = draw(st.integers(0, 25))
    rows = []
    tidy = draw(st.booleans())  # most cells well-formed, so that many files are readable
    for k in range(n):
        row = [draw(cells) for _ in header]
        if tidy:
            for j, name in enumerate(header):
                if draw(st.integers(0, 19)) == 0:
                    continue  # one messy cell in twenty
                if name in ("lat", "y"):
                    row[j] = draw(st.sampled_from(["", "NA"]) | PLAUSIBLE_LAT)
                elif name in ("lon", "x"):
                    row[j] = draw(st.sampled_from(["", "NA"]) | PLAUSIBLE_LON)
                elif name in ("pupils", "fsm_pct"):
                    row[j] = draw(st.sampled_from(MARKERS) | st.integers(0, 900).map(str))
        if header and header[0] == "id" and draw(st.integers(0, 9)) > 0:
            row[0] = f"S{k}"  # mostly unique ids
        if draw(st.integers(0, 19)) == 0:
            row = [*row, draw(cells)] if draw(st.booleans()) else row[:-1]  # ragged
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    if draw(st.booleans()):
        buffer.write(draw(st.sampled_from(["Schools 2024\n", "\n", "Title;\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 14)) == 0:
        data = draw(st.binary(max_size=200))
    return data, n


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(tables())
def test_any_file_gives_centres_or_a_clear_error(table):
    data, _ = table
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "schools.csv"
        path.write_bytes(data)
        try:
            centres = load_centres(path)
        except InputError as exc:
            error = exc
        else:
            error = None
    if error is not None:
        assert str(path) in str(error)
        assert error.message
        event("clear error")
        return
    event("centres read")
    ids = list(centres.frame["centre_id"]) + list(centres.excluded["centre_id"])
    assert len(ids) == len(set(ids))
    assert all(str(r).strip() for r in centres.excluded["reason"])
    assert centres.frame.crs is not None
    assert centres.frame.crs.is_projected
    rows = list(centres.frame["row"]) + list(centres.excluded["row"])
    assert len(rows) == len(set(rows))
    assert min(rows, default=2) >= 2
