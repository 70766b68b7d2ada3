"""Labels that travel with the figure: axis titles, colour bar quantity and unit, the caption and
the noise verdict, in the figure itself (so in every export) and in CSV / JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.noise import noise_floor, settle
from recsys_core.viz.heatmap import axis_titles, colour_title, heatmap_figure

FIELDS = ["user_id", "movie_id", "user_gender"]
SYM = [[np.nan, 0.9, 0.2], [0.9, np.nan, 0.5], [0.2, 0.5, np.nan]]


def _tii(**extra):
    m = InteractionMatrix(
        values=np.array(SYM),
        fields=list(FIELDS),
        method="tii",
        title="Total interaction index: sqrt(TII)",
        description="d",
        kind="approximation",
        n_rows=2000,
        extra={"quantity": "sqrt(TII)", "unit": "rating", "run_id": "dlrm-1", **extra},
    )
    ref = InteractionMatrix(
        values=np.full((3, 3), 0.3), fields=list(FIELDS), method="tii", title="r",
        description="r", kind="approximation",
    )  # fmt: skip
    m.extra["noise"] = noise_floor(m, {"permuted": [ref]}, "references")
    return settle(m)


def _subtitle(fig):
    return fig.layout.title.subtitle.text


def test_tii_heatmap_names_its_quantity_unit_axes_caption_and_verdict():
    m = _tii()
    fig = heatmap_figure(m)
    heat = fig.data[0]
    assert heat.colorbar.title.text == "sqrt(TII) (rating)" == colour_title(m)
    assert "strength" not in heat.colorbar.title.text
    sub = _subtitle(fig)
    assert "run dlrm-1 · tii · 2,000 held-out rows · tier: approximation" in sub
    assert "2 of 3 pairs above noise" in sub and "noise floor 0.3 rating" in sub
    assert fig.layout.yaxis.title.text == "field i"
    assert fig.layout.xaxis.title.text.startswith("field j (symmetric")
    # the veil covers exactly the cells within the floor
    veil = next(t for t in fig.data if t.name == "within the noise floor")
    z = np.array(veil.z, dtype=float)
    np.testing.assert_array_equal(np.isfinite(z), np.array(SYM) == 0.2)
    assert "above the noise floor (0.3)" in heat.customdata[0][1]
    assert "within the noise floor (0.3)" in heat.customdata[0][2]


@pytest.mark.parametrize(
    ("orientation", "quantity", "row", "column"),
    [
        ("row: query field; column: key field", "attention weight", "query field", "key field"),
        (
            "row: field of x0 (multiplies); column: field of x_l (read by W)",
            "mean |attributed pair term|",
            "field of x0 (multiplies)",
            "field of x_l (read by W)",
        ),
    ],
)
def test_directed_maps_say_what_rows_and_columns_are(orientation, quantity, row, column):
    m = InteractionMatrix(
        values=np.arange(9.0).reshape(3, 3), fields=list(FIELDS), method="native",
        title="Attention, layer 1 of 1, head 1 of 2", description="d", kind="data-averaged",
        extra={"orientation": orientation, "quantity": quantity, "layer": 0, "head": 1},
    )  # fmt: skip
    assert axis_titles(m) == (row, column)
    fig = heatmap_figure(m)
    assert fig.data[0].colorbar.title.text == quantity
    assert "native, layer 1, head 2" in _subtitle(fig)


def test_colour_title_falls_back_to_the_quantity_in_the_title():
    m = InteractionMatrix(
        values=np.array(SYM), fields=list(FIELDS), method="native",
        title="Dot interaction: mean |<e_i, e_j>|", description="d", kind="data-averaged",
    )  # fmt: skip
    assert colour_title(m) == "mean |<e_i, e_j>|"
    assert "verdict" not in _subtitle(heatmap_figure(m)).lower()


def test_svg_export_carries_the_labels():
    from recsys_core.viz.export import figure_bytes

    svg = figure_bytes(heatmap_figure(_tii()), "svg").decode()
    for text in ("2 of 3 pairs above noise", "run dlrm-1", "sqrt(TII) (rating)", "field i"):
        assert text in svg, text


def test_csv_and_json_name_the_scale_floor_and_cells_above_noise():
    m = _tii(scales={"matrix": "sqrt(TII), rating", "tii": "TII (squared), rating^2"})
    text = m.to_csv()
    table = pd.read_csv(io.StringIO(text), index_col=0, comment="#")
    np.testing.assert_allclose(table.to_numpy(), np.array(SYM), equal_nan=True)
    lines = [line for line in text.splitlines() if line.startswith("#")]
    assert lines[0] == "# values,\"sqrt(TII), rating\""
    assert lines[1] == "# verdict,2 of 3 pairs above noise"
    assert lines[2].startswith("# noise floor,0.3,rating,value,")
    assert lines[3] == "# pairs above noise,user_id × movie_id; movie_id × user_gender"
    split = _tii(fields="columns", blocks={"price": "continuous", "age": "continuous"}).to_csv()
    assert "# fields,one per input column,price in continuous; age in continuous" in split
    data = json.loads(m.to_json())
    assert data["verdict"] == "2 of 3 pairs above noise"
    assert data["extra"]["scales"]["tii"] == "TII (squared), rating^2"
    assert data["extra"]["noise"]["floor"] == 0.3
