"""Plotly figures of interaction matrices and their export."""

from recsys_core.viz.curves import training_curves_figure
from recsys_core.viz.export import FORMATS, figure_bytes, matrix_bytes, write_export
from recsys_core.viz.heatmap import heatmap_figure

__all__ = [
    "FORMATS",
    "figure_bytes",
    "heatmap_figure",
    "matrix_bytes",
    "training_curves_figure",
    "write_export",
]
