import shutil

import numpy as np
import pytest

from recsys_core.analysis import InteractionMatrix
from recsys_core.viz import figure_bytes, heatmap_figure, write_export


@pytest.fixture()
def matrix():
    v = np.array([[np.nan, 0.2, 0.5], [0.2, np.nan, 0.1], [0.5, 0.1, np.nan]])
    return InteractionMatrix(v, ["a", "b", "c"], "native", "t", "what it means", "data-averaged")


def test_heatmap_shows_the_matrix_with_field_names(matrix, plotly_array):
    fig = heatmap_figure(matrix)
    heat = fig.data[0]
    assert list(heat.x) == ["a", "b", "c"] and list(heat.y) == ["a", "b", "c"]
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), matrix.values)
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]
    signed = InteractionMatrix(
        matrix.values - 0.3, matrix.fields, "x", "t", "d", "exact decomposition", signed=True
    )
    assert heatmap_figure(signed).data[0].zmid == 0.0
    payload = fig.to_plotly_json()["data"][0]["z"]
    np.testing.assert_array_equal(plotly_array(payload), matrix.values)


def test_html_export_is_self_contained(matrix, tmp_path):
    out = write_export(matrix, heatmap_figure(matrix), "html", tmp_path / "m.html")
    text = out.read_text()
    assert "<html>" in text and "plotly" in text.lower() and len(text) > 1_000_000


@pytest.mark.skipif(shutil.which("chromium") is None, reason="kaleido needs Debian's chromium")
def test_png_and_pdf_export(matrix):
    fig = heatmap_figure(matrix)
    assert figure_bytes(fig, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure_bytes(fig, "pdf")[:4] == b"%PDF"
    assert figure_bytes(fig, "svg").lstrip()[:4] in (b"<svg", b"<?xm")
