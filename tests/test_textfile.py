"""One reader for every text file a user gives: UTF-8 (with or without a BOM) or cp1252.

Rule files (partnerships, groups, exclusions, previous layouts), matrix files,
centres and scenarios all go through :mod:`clustering.input.textfile`; a file
that is not text gives an error naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clustering import InputError, load_centres
from clustering.analysis.check import _read_matrix
from clustering.input.files import read_exclusions, read_groups, read_pairs, read_previous
from clustering.input.matrix import read_matrix
from clustering.input.textfile import decode, read_csv_text, read_text
from clustering.model.costs import read_cost_matrix
from clustering.model.scenario import load_scenario

NAME = "École Sainte-Thérèse’s Primary"
#: an Excel workbook's opening bytes, then bytes no text encoding here decodes
JUNK = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4


def _cp1252(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    return path


def _bom(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8-sig"))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    return path


PAIRS = f"centre_a,centre_b,school\n101,102,{NAME}\nCAFÉ1,CAFÉ2,Café Lane\n"


@pytest.mark.parametrize("write", [_cp1252, _bom], ids=["cp1252", "utf-8-bom"])
def test_partnerships_with_accents_load_in_either_encoding(tmp_path, write):
    path = write(tmp_path / "partnerships.csv", PAIRS)
    assert read_pairs(path) == (("101", "102"), ("CAFÉ1", "CAFÉ2"))
    frame = read_csv_text(path)
    assert list(frame.columns) == ["centre_a", "centre_b", "school"]  # no BOM in the header
    assert frame["school"].tolist() == [NAME, "Café Lane"]


@pytest.mark.parametrize("write", [_cp1252, _bom], ids=["cp1252", "utf-8-bom"])
def test_every_rule_file_reads_either_encoding(tmp_path, write):
    groups = write(tmp_path / "groups.csv", "group,centre_id\nSainte-Thérèse,1\nSainte-Thérèse,2\n")
    assert read_groups(groups) == (("1", "2"),)
    out = write(tmp_path / "out.csv", "centre_id,reason\n7,fermée cette année\n")
    assert read_exclusions(out) == {"7": "fermée cette année"}
    prev = write(
        tmp_path / "prev.csv",
        f"centre_id,name,cluster,is_venue\n1,{NAME},A,True\n2,Café Lane,A,False\n",
    )
    layout = read_previous(prev)
    assert dict(layout.cluster) == {"1": "A", "2": "A"}
    assert dict(layout.venue) == {"A": "1"}


@pytest.mark.parametrize("write", [_cp1252, _bom], ids=["cp1252", "utf-8-bom"])
def test_matrix_files_read_either_encoding_by_engine_and_checker(tmp_path, write):
    text = "from,to,minutes\nÉ1,É2,5\nÉ2,É1,6\n"
    path = write(tmp_path / "minutes.csv", text)
    costs, missing = read_cost_matrix(path, ["É1", "É2", "Z"])
    assert missing == ["Z"]
    assert costs.unit == "min"
    np.testing.assert_array_equal(costs.matrix, [[0.0, 5.0], [6.0, 0.0]])
    assert read_matrix(path, ["É2", "É1"]).values.tolist() == [[0.0, 6.0], [5.0, 0.0]]
    square = _read_matrix(path)
    assert square.loc["É1", "É2"] == 5.0


def test_a_scenario_names_a_cp1252_partnerships_file(tmp_path):
    _cp1252(tmp_path / "partnerships.csv", PAIRS)
    scenario = tmp_path / "s.toml"
    _bom(scenario, '# Écoles\n[partnerships]\nfile = "partnerships.csv"\n')
    loaded = load_scenario(scenario)
    assert loaded.constraints.partnerships == (("101", "102"), ("CAFÉ1", "CAFÉ2"))


def _readers(path: Path):
    return {
        "pairs": lambda: read_pairs(path),
        "groups": lambda: read_groups(path),
        "exclusions": lambda: read_exclusions(path),
        "previous": lambda: read_previous(path),
        "matrix": lambda: read_cost_matrix(path, ["1"]),
        "checker matrix": lambda: _read_matrix(path),
        "centres": lambda: load_centres(path),
        "text": lambda: read_text(path),
    }


@pytest.mark.parametrize("reader", list(_readers(Path("x"))))
def test_binary_junk_is_refused_naming_the_file(tmp_path, reader):
    path = tmp_path / "junk.csv"
    path.write_bytes(JUNK)
    with pytest.raises(InputError) as info:
        _readers(path)[reader]()
    message = str(info.value)
    assert str(path) in message
    assert "not text" in message
    assert "save it as CSV UTF-8" in message


def test_bytes_that_are_neither_encoding_are_refused():
    # 0x81 and 0x8d are undefined in cp1252 and invalid alone in UTF-8
    with pytest.raises(InputError, match=r"^f\.csv: the file is neither UTF-8 nor cp1252 text"):
        decode(b"id,name\n1,\x81\x8d\n", "f.csv")
    with pytest.raises(InputError, match="UTF-16"):
        decode("id\n1\n".encode("utf-16"), "f.csv")
    assert decode(b"plain", "f.csv") == "plain"


def test_missing_files_and_folders_name_the_file(tmp_path):
    with pytest.raises(InputError, match="the pairs file does not exist") as info:
        read_csv_text(tmp_path / "nowhere.csv", what="pairs")
    assert info.value.file == str(tmp_path / "nowhere.csv")
    with pytest.raises(InputError, match="file not found"):
        read_text(tmp_path / "nowhere.csv")
    with pytest.raises(InputError, match="folder, not a file"):
        read_text(tmp_path)
