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


def test_ordering_by_group_and_strength_keeps_every_cell():
    v = np.array(
        [
            [np.nan, 0.1, 0.9, 0.2],
            [0.1, np.nan, 0.3, 0.4],
            [0.9, 0.3, np.nan, 0.5],
            [0.2, 0.4, 0.5, np.nan],
        ]
    )
    groups = {
        "movie_id": "movie",
        "user_id": "user",
        "continuous": "context",
        "user_gender": "user",
    }
    m = InteractionMatrix(v, ["movie_id", "user_id", "continuous", "user_gender"], "x", "t", "d", "data-averaged", groups=groups,
                          extra={"lower": v.tolist()})  # fmt: skip
    g = m.ordered("group")
    assert g.fields == ["user_id", "user_gender", "movie_id", "continuous"]
    for i, a in enumerate(g.fields):
        for j, b in enumerate(g.fields):
            k, l_ = m.fields.index(a), m.fields.index(b)
            np.testing.assert_equal(g.values[i, j], m.values[k, l_])
            np.testing.assert_equal(g.extra["lower"][i][j], m.extra["lower"][k][l_])
    s = m.ordered("strength")
    assert s.fields[0] == "continuous"  # row sum 1.7, the largest
    fig = heatmap_figure(g)
    rects = [sh for sh in fig.layout.shapes if sh.type == "rect"]
    assert [(r.x0, r.x1) for r in rects] == [(-0.5, 1.5)]  # the two user fields, outlined
    assert (
        "redundancy" in fig.data[0].customdata[0][1]
        and fig.data[0].customdata[0][2] == "across groups"
    )
    with pytest.raises(ValueError, match="order must be one of"):
        m.ordered("alphabetical")


def test_a_leaderboard_ranks_by_its_metric_in_the_right_direction():
    import pandas as pd

    from recsys_core.viz.leaderboard import leaderboard_figure, leaderboard_metric

    auc = pd.DataFrame({"model": ["a", "b", "c"], "trials": 3, "auc_mean": [0.70, 0.78, 0.75],
                        "auc_std": [0.01, np.nan, 0.02]})  # fmt: skip
    assert leaderboard_metric(auc) == "auc"
    dots = leaderboard_figure(auc).data[0]
    assert list(dots.y) == ["b", "c", "a"]  # higher AUC first
    np.testing.assert_allclose(dots.error_x.array, [0.0, 0.02, 0.01])  # no spread known: none drawn
    rmse = auc.rename(columns={"auc_mean": "rmse_mean", "auc_std": "rmse_std"})
    assert list(leaderboard_figure(rmse).data[0].y) == ["a", "c", "b"]  # lower RMSE first
    with pytest.raises(ValueError, match="no <metric>_mean column"):
        leaderboard_metric(pd.DataFrame({"model": ["a"]}))
