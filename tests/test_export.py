"""`recsys-core export`: one view in every format, and the one-file HTML report of a run."""

import json
import re

import numpy as np
import pytest

from recsys_core.analysis import interaction_matrix
from recsys_core.cli import main
from recsys_core.runs import RunStore


def _export(saved, runs_dir, out, *args):
    argv = ["export", saved.run_id, "--out", str(out), "--runs-dir", str(runs_dir), *args]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize(
    "fmt, magic", [("png", b"\x89PNG"), ("svg", b"<svg"), ("pdf", b"%PDF"), ("html", b"<html")]
)
def test_figure_formats(saved, runs_dir, tmp_path, fmt, magic):
    out = _export(saved, runs_dir, tmp_path / f"map.{fmt}", "--format", fmt, "--method", "tii")
    data = out.read_bytes()
    assert magic in data[:2000]


def test_csv_and_json_carry_the_analysis_numbers(saved, runs_dir, tmp_path):
    expected = interaction_matrix(RunStore(runs_dir).open(saved.run_id)).ordered("strength")
    out = _export(saved, runs_dir, tmp_path / "m.json", "--format", "json", "--order", "strength")
    data = json.loads(out.read_text())
    assert data["fields"] == expected.fields and data["method"] == "native"
    got = np.array([[np.nan if v is None else v for v in r] for r in data["matrix"]], float)
    np.testing.assert_allclose(got, expected.values, rtol=1e-6, equal_nan=True)
    csv = _export(saved, runs_dir, tmp_path / "m.csv", "--format", "csv").read_text()
    assert csv.splitlines()[0].startswith("field,")


def test_report_is_one_self_contained_file_with_every_map_explained(saved, runs_dir, tmp_path):
    text = _export(saved, runs_dir, tmp_path / "r.html", "--format", "report").read_text()
    assert text.startswith("<!DOCTYPE html>") and saved.run_id in text
    # plotly.js is embedded exactly once; every map and the curves are interactive divs.
    assert text.count("plotly.js v") == 1 and not re.findall(r"<script[^>]*\bsrc=", text)
    for heading in ("Test metrics", "Configuration", "Training curves", "Native: ",
                    "Total Interaction Index", "Archipelago"):  # fmt: skip
        assert heading in text
    assert len(re.findall(r'class="plotly-graph-div"', text)) >= 4
    assert "data-averaged" in text and "held-out rows" in text


def test_unknown_run_is_a_clear_error(runs_dir, tmp_path, capsys):
    code = main(["export", "nope-1", "--runs-dir", str(runs_dir), "--out", str(tmp_path / "x")])
    assert code != 0
    assert "no run 'nope-1'" in capsys.readouterr().err
