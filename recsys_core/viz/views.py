"""The figure of any analysis result: a heatmap for a field x field matrix, bars for field scores."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.viz.heatmap import heatmap_figure


def view_figure(result: Any, clickable: bool = False, zmax: float | None = None) -> go.Figure:
    """``heatmap_figure`` for an ``InteractionMatrix``, ``bars_figure`` for ``FieldScores``."""
    if isinstance(result, InteractionMatrix):
        return heatmap_figure(result, clickable=clickable, zmax=zmax)
    from recsys_core.viz.bars import bars_figure

    return bars_figure(result)
