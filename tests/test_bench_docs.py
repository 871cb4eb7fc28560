"""The benchmark figures quoted in README.md and bench/README.md are the committed result files'.

``bench/report.py`` renders every marked block from ``bench/results/``; these tests run its
``--check`` logic in-process (standard library only: no engine import, no ``../shared``).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_docs_match_the_result_files(report):
    found = report.diffs()
    assert not found, (
        "documents differ from bench/results (run `.venv/bin/python bench/report.py`):\n"
        + "\n".join(found.values())
    )


def test_every_block_is_used_and_known(report):
    used = [name for path in report.DOCS for name in report.blocks_in(path.read_text("utf-8"))]
    assert sorted(set(used)) == sorted(report.BLOCKS), "a block was dropped or is unknown"
    assert len(used) == len(set(used)), "a block appears twice"


def test_a_changed_figure_is_caught(report):
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    count = re.search(r"published optimum on (\d+) of the", text)
    assert count, "the README no longer quotes the pmedcap count"
    changed = text.replace(count.group(0), f"published optimum on {int(count.group(1)) + 1} of the")
    assert report.expected(changed) == text


def test_check_exits_1_and_prints_the_diff(report, tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "before\n<!-- bench/report.py: peers-kentucky -->\nmet, 9.9 %\n<!-- /bench/report.py -->\n"
    )
    assert report.main(["--check", str(doc)]) == 1
    out = capsys.readouterr().out
    assert "-met, 9.9 %" in out
    assert "+- **Kentucky target" in out
    assert doc.read_text().endswith("met, 9.9 %\n<!-- /bench/report.py -->\n")  # not rewritten


def test_unknown_block_is_an_error(report):
    with pytest.raises(KeyError, match="unknown block"):
        report.expected("<!-- bench/report.py: nonsense -->\n<!-- /bench/report.py -->\n")
