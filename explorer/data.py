"""The sidebar's data: a bundled sample or an upload, column mapping and who takes part."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

import clustering

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {
    "Hampshire primary schools (2022)": "data/sample/hampshire_primary_schools_2022.csv",
    "Surrey primary schools (2022)": "data/sample/surrey_primary_schools_2022.csv",
    "Kentucky schools (2016–17)": "data/sample/kentucky_schools_2016_17.csv",
}
UPLOAD_TYPES = ("csv", "xlsx", "geojson", "gpkg")
MAX_BYTES = 20 * 1024 * 1024  # 20 MB
MAX_ROWS = 30_000
#: the fields a user may map by hand when a file's columns are not recognised
MAPPABLE = ("id", "name", "lat", "lon", "x", "y", "pupils", "status")
AUTO = "(recognised automatically)"
#: a column offered for "who takes part" has at most this many distinct values
MAX_CHOICES = 40


@dataclass
class Data:
    """What the sidebar chose: the centres, a key for their content, where they came from."""

    centres: clustering.Centres
    key: str
    #: the file the CLI would read: a bundled sample's path, or the upload's name
    source: str
    #: the column mapping given by hand (canonical field → column)
    columns: dict[str, str]
    crs: str | None


def check_size(name: str, data: bytes) -> None:
    """Refuse a file above the upload cap, or of a type the app does not read."""
    if len(data) > MAX_BYTES:
        raise clustering.InputError(
            f"{name} is {len(data) / 1e6:.1f} MB; the app takes files up to "
            f"{MAX_BYTES // (1024 * 1024)} MB."
        )
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise clustering.InputError(
            f"{name}: the app reads {', '.join('.' + t for t in UPLOAD_TYPES)} files."
        )


def load_bytes(
    name: str,
    data: bytes,
    path: str | None = None,
    *,
    columns: dict[str, str] | None = None,
    crs: str | None = None,
) -> clustering.Centres:
    """Centres from a file's bytes, within the caps; raises ``InputError`` in plain words.

    ``path`` (a bundled sample) is read in place; otherwise the bytes are written to a
    temporary file with the upload's suffix and read by :func:`clustering.load_centres`
    (parsers only: nothing the user sends is evaluated or unpickled).
    """
    check_size(name, data)
    with _as_file(name, data, path) as file:
        try:
            centres = clustering.load_centres(file, columns=columns or None, crs=crs or None)
        except clustering.InputError as error:
            raise _named(error, file, name if path is None else path) from None
    if path is None:
        centres.source = name
    return check_rows(centres, name)


def read_upload(name: str, data: bytes, read):
    """``read(path)`` on a temporary copy of an upload; errors name the upload, not the copy."""
    check_size(name, data)
    with _as_file(name, data, None) as file:
        try:
            return read(file)
        except clustering.InputError as error:
            raise _named(error, file, name) from None


def header(name: str, data: bytes, path: str | None = None) -> list[str]:
    """The columns of a file, for mapping them by hand (empty when it cannot be read)."""
    check_size(name, data)
    try:
        with _as_file(name, data, path) as file:
            table = clustering.read_table(file)
    except clustering.InputError:
        return []
    return [str(c) for c in table.columns if str(c) != "geometry"]


def _named(error: clustering.InputError, file: Path, name: str) -> clustering.InputError:
    """The error with the upload's name where it named the temporary copy."""
    where = str(error.file or "")
    return clustering.InputError(
        error.message.replace(str(file), name),
        file=name if where in {str(file), ""} else where.replace(str(file), name),
        row=error.row,
        column=error.column,
        fix=error.fix,
    )


class _as_file:
    """A context giving a path to read: the sample itself, or a temporary copy of an upload."""

    def __init__(self, name: str, data: bytes, path: str | None) -> None:
        self.name, self.data, self.path = name, data, path
        self.folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        if self.path is not None:
            return ROOT / self.path
        self.folder = tempfile.TemporaryDirectory()
        file = Path(self.folder.name) / f"upload{Path(self.name).suffix.lower()}"
        file.write_bytes(self.data)
        return file

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            self.folder.cleanup()


def load_frame(frame: pd.DataFrame, name: str = "the table") -> clustering.Centres:
    """Centres from a frame, within the row cap; raises ``InputError`` in plain words."""
    if len(frame) > MAX_ROWS:
        raise clustering.InputError(too_many_rows(name, len(frame)))
    return check_rows(clustering.load_centres(frame), name)


def too_many_rows(name: str, n: int) -> str:
    return f"{name} has {n:,} rows; the app takes up to {MAX_ROWS:,}."


def check_rows(centres: clustering.Centres, name: str) -> clustering.Centres:
    n = len(centres) + len(centres.excluded)
    if n > MAX_ROWS:
        raise clustering.InputError(too_many_rows(name, n))
    return centres


@st.cache_data(max_entries=8, show_spinner="Reading and checking the schools…")
def cached_centres(
    name: str,
    data: bytes,
    path: str | None = None,
    columns: tuple[tuple[str, str], ...] = (),
    crs: str | None = None,
) -> clustering.Centres:
    """:func:`load_bytes`, cached by the file's bytes (and name, mapping and CRS).

    The cache is keyed by content: a session sees only what it sent itself.
    """
    return load_bytes(name, data, path, columns=dict(columns), crs=crs)


def choice_columns(centres: clustering.Centres) -> list[str]:
    """Columns with a few distinct values (phase, type, district…): who takes part, quotas."""
    frame = centres.frame
    out = []
    for column in frame.columns:
        if column in {"centre_id", "name", "row", "geometry"}:
            continue
        values = frame[column].dropna()
        if values.empty or pd.api.types.is_float_dtype(values):
            continue
        if 1 < values.astype(str).nunique() <= MAX_CHOICES:
            out.append(str(column))
    return out


def values_of(centres: clustering.Centres, column: str) -> list[str]:
    """The distinct values of a column as text, most common first."""
    values = centres.frame[column].dropna().astype(str)
    return values.value_counts().index.tolist()


def not_taking_part(
    centres: clustering.Centres, column: str | None, keep: list[str]
) -> dict[str, str]:
    """Centre id → reason, for the centres whose ``column`` is not one of ``keep``.

    These go to :class:`clustering.Constraints` ``exclude``, so they are listed as
    excluded with the reason (and a scenario saved from the app repeats it).
    """
    if not column:
        return {}
    frame = centres.frame
    values = frame[column].astype("string").fillna("")
    out = ~values.isin(set(keep))
    shown = ", ".join(keep) if keep else "nothing"
    reason = f"not taking part: {column} is not {shown} (chosen in the app)"
    return {str(cid): reason for cid in frame.loc[out.to_numpy(), "centre_id"]}


def choose() -> Data | None:
    """The sidebar: a sample or an upload, columns, who takes part → :class:`Data`, or None."""
    bar = st.sidebar
    bar.header("Schools")
    choice = bar.radio("Data", ["Bundled sample", "Upload a file"], key="data_choice")
    if choice == "Bundled sample":
        label = bar.selectbox("Sample", list(SAMPLES), key="sample")
        path = SAMPLES[label]
        data = (ROOT / path).read_bytes()
        name, where = Path(path).name, path
    else:
        upload = bar.file_uploader(
            f"CSV, Excel, GeoJSON or GeoPackage (up to {MAX_BYTES // (1024 * 1024)} MB, "
            f"{MAX_ROWS:,} rows)",
            type=list(UPLOAD_TYPES),
            key="upload",
        )
        if upload is None:
            st.info("Choose a file in the sidebar, or use a bundled sample.")
            return None
        data, name, where = upload.getvalue(), upload.name, None
    key = hashlib.sha256(data).hexdigest()
    columns, crs = _mapping(name, data, where, key)
    centres = read_or_explain(name, data, where, columns, crs)
    if centres is None:
        return None
    bar.caption(f"{len(centres):,} schools read; {len(centres.excluded):,} excluded on reading.")
    for note in centres.reading_notes():
        bar.caption(note[0].upper() + note[1:] + ".")
    if len(centres.excluded):
        with bar.expander("Excluded on reading"):
            excluded = centres.excluded
            for reason, count in excluded["reason"].value_counts().head(5).items():
                st.text(f"{count:,} × {reason}")
            first = ["reason", "name"]  # the sidebar is narrow: the reason comes first
            order = first + [c for c in excluded.columns if c not in first]
            st.dataframe(excluded[order], hide_index=True)
    source = where if where else name
    return Data(centres, f"{key}:{sorted(columns.items())}:{crs}", source, columns, crs)


def read_or_explain(
    name: str,
    data: bytes,
    where: str | None = None,
    columns: dict[str, str] | None = None,
    crs: str | None = None,
) -> clustering.Centres | None:
    """The centres of a file; or, when it cannot be used, why in plain words (no traceback)."""
    try:
        return cached_centres(name, data, where, tuple(sorted((columns or {}).items())), crs)
    except clustering.InputError as error:
        st.error(f"The file could not be used: {error}")
        st.info("If its columns were not recognised, map them under **Columns** in the sidebar.")
        return None


def _mapping(name: str, data: bytes, where: str | None, key: str) -> tuple[dict[str, str], str]:
    """The Columns expander: canonical field → the file's column, and the CRS of x/y."""
    with st.sidebar.expander("Columns"):
        st.caption(
            "Columns named as in GIAS, the Kentucky directory or the usual names "
            "(id, name, lat/lon or x/y) are recognised; map any others here."
        )
        try:
            names = header(name, data, where)
        except clustering.InputError:
            names = []
        columns = {}
        for field in MAPPABLE:
            picked = st.selectbox(field, [AUTO, *names], key=f"col_{field}_{key[:12]}")
            if picked != AUTO:
                columns[field] = picked
        crs = st.text_input("CRS of x/y (e.g. EPSG:27700)", key=f"crs_{key[:12]}")
    return columns, crs.strip()


def participation(centres: clustering.Centres) -> tuple[dict[str, str], str | None, list[str]]:
    """The sidebar's "who takes part": (exclusions with reasons, column, kept values)."""
    bar = st.sidebar
    options = choice_columns(centres)
    column = bar.selectbox(
        "Who takes part: by column",
        ["(everyone)", *options],
        key="only_column",
        help="e.g. only some phases or school types; the others are listed as excluded",
    )
    if column == "(everyone)":
        return {}, None, []
    values = values_of(centres, column)
    keep = bar.multiselect(f"Keep {column}", values, default=values, key=f"only_{column}")
    exclude = not_taking_part(centres, column, keep)
    bar.caption(f"{len(centres) - len(exclude):,} schools take part.")
    return exclude, column, keep
