"""Bars of per-field scores and faceted heatmaps: the figures carry exactly the numbers they show."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import FieldScores
from recsys_core.viz.bars import GROUP_COLOURS, bars_figure
from recsys_core.viz.facets import facet_figure


def scores(n=24, signed=False):
    rng = np.random.default_rng(0)
    fields = [f"field_with_a_long_name_{k}" for k in range(n)]
    groups = {f: ("user", "movie", "context")[k % 3] for k, f in enumerate(fields)}
    values = rng.normal(size=n) if signed else rng.random(n)
    return FieldScores(
        values, fields, "native", "Cross weights", "what the bars mean", "weights-only",
        signed=signed, groups=groups,
    )  # fmt: skip


def decoded_bars(fig, plotly_array):
    """``{field: value}`` over every bar trace, read back from the figure's JSON."""
    out = {}
    for trace in fig.to_plotly_json()["data"]:
        for name, value in zip(trace["y"], plotly_array(trace["x"]), strict=True):
            out[name] = value
    return out


def test_bars_carry_every_score_coloured_by_group(plotly_array):
    s = scores()
    fig = bars_figure(s)
    got = decoded_bars(fig, plotly_array)
    assert got == pytest.approx(dict(zip(s.fields, s.values, strict=True)))
    assert {t.name for t in fig.data} == {"user", "movie", "context"}
    for trace in fig.data:
        assert trace.orientation == "h" and trace.marker.color == GROUP_COLOURS[trace.name]
        assert all(s.groups[f] == trace.name for f in trace.y)
    layout = fig.layout
    assert list(layout.yaxis.categoryarray) == s.fields  # given order, first field on top
    assert layout.yaxis.autorange == "reversed" and layout.yaxis.automargin
    assert layout.height >= 24 * len(s.fields)  # one readable row per field
    assert layout.title.text == "Cross weights"
    assert layout.title.subtitle.text == "what the bars mean"
    ranked = bars_figure(s, sort=True).layout.yaxis.categoryarray
    assert list(ranked) == [s.fields[i] for i in np.argsort(-s.values, kind="stable")]
    signed = bars_figure(scores(5, signed=True))
    assert signed.layout.xaxis.title.text == "signed score"


def matrices(n_maps=6, n=5, signed=False):
    rng = np.random.default_rng(1)
    fields = [f"f{k}" for k in range(n)]
    groups = {f: "user" if k < 2 else "movie" for k, f in enumerate(fields)}
    out = []
    for k in range(n_maps):
        v = rng.normal(size=(n, n)) * (k + 1) if signed else rng.random((n, n)) * (k + 1)
        v[0, 0] = np.nan
        out.append(
            InteractionMatrix(v, fields, "native", f"m{k}", "d", "data-averaged", signed=signed,
                              groups=groups)
        )  # fmt: skip
    return out


def test_facets_share_one_colour_scale_and_show_every_matrix(plotly_array):
    ms = matrices()
    titles = [f"layer {k // 2 + 1}, head {k % 2 + 1}" for k in range(6)]
    fig = facet_figure(ms, titles, cols=2, title="Attention")
    data = fig.to_plotly_json()["data"]
    assert len(data) == 6
    for trace, m in zip(data, ms, strict=True):
        assert trace["type"] == "heatmap" and trace["coloraxis"] == "coloraxis"
        assert "colorscale" not in trace and "zmin" not in trace
        np.testing.assert_array_equal(plotly_array(trace["z"]), m.values)
        assert list(trace["x"]) == m.fields and list(trace["y"]) == m.fields
    layout = fig.layout
    assert "coloraxis2" not in layout.to_plotly_json()
    top = max(np.nanmax(m.values) for m in ms)
    assert layout.coloraxis.cmin == 0.0 and layout.coloraxis.cmax == pytest.approx(top)
    assert [a.text for a in layout.annotations][:6] == titles
    # 3 rows x 2 columns; names on the left column and the bottom row only
    assert fig.layout.xaxis5.showticklabels and fig.layout.xaxis6.showticklabels
    assert fig.layout.xaxis.showticklabels is False
    assert fig.layout.yaxis.showticklabels and fig.layout.yaxis2.showticklabels is False
    # group outlines on every facet (fields 0-1 user, 2-4 movie)
    assert len(layout.shapes) == 2 * 6
    assert fig.data[0].customdata[0][1].startswith("within group 'user'")

    signed = facet_figure(matrices(3, signed=True), ["a", "b", "c"])
    cmax = max(np.nanmax(np.abs(m.values)) for m in matrices(3, signed=True))
    assert signed.layout.coloraxis.cmin == pytest.approx(-cmax)
    assert signed.layout.coloraxis.cmax == pytest.approx(cmax)
    with pytest.raises(ValueError, match="titles"):
        facet_figure(ms, ["only one"])
    with pytest.raises(ValueError, match="at least one"):
        facet_figure([], [])


def test_facets_of_different_fields_label_every_facet():
    a = matrices(1)[0]
    b = InteractionMatrix(np.ones((3, 3)), ["x", "y", "z"], "native", "b", "d", "weights-only")
    fig = facet_figure([a, b], ["a", "b"])
    assert fig.layout.xaxis.showticklabels is not False
    assert fig.layout.yaxis2.showticklabels is not False
    assert list(fig.data[1].x) == ["x", "y", "z"]
