"""Figures and matrices to files: PNG/SVG/PDF through kaleido, self-contained HTML, CSV and JSON."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from recsys_core.errors import RecsysCoreError

IMAGE_FORMATS = ("png", "svg", "pdf")
FORMATS = (*IMAGE_FORMATS, "html", "csv", "json")
RUN_FORMATS = (*FORMATS, "report")
_server_lock = threading.Lock()
_server_started = False


def _ensure_kaleido() -> None:
    """Start kaleido's persistent browser once (MathJax off), so each export takes a fraction of a second."""
    global _server_started
    with _server_lock:
        if _server_started:
            return
        import kaleido

        try:
            kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        except TypeError:  # older signature
            kaleido.start_sync_server(mathjax=False)
        except RuntimeError:  # already running
            pass
        _server_started = True


def figure_bytes(fig: go.Figure, fmt: str, scale: float = 2.0) -> bytes:
    """Render ``fig`` as ``png``, ``svg``, ``pdf`` or self-contained ``html``."""
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
    if fmt not in IMAGE_FORMATS:
        raise RecsysCoreError(
            f"cannot export a figure as {fmt!r}; use one of {(*IMAGE_FORMATS, 'html')}."
        )
    _ensure_kaleido()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The kopts argument is ignored")
            # The dashboard stretches figures to the page; a file gets a width that keeps a
            # heatmap's cells about square (its height grows with the number of fields).
            width = fig.layout.width or max(700, int((fig.layout.height or 500) * 1.15) + 120)
            return fig.to_image(format=fmt, width=width, scale=scale if fmt == "png" else 1.0)
    except Exception as exc:  # kaleido reports a missing Chrome with several exception types
        raise RecsysCoreError(
            f"{fmt.upper()} export needs Chromium for kaleido (apt-get install -y chromium): {exc}"
        ) from exc


def matrix_bytes(matrix: Any, fmt: str) -> bytes:
    """An ``InteractionMatrix`` (or per-field ``FieldScores``, or any result with ``to_csv`` and
    ``to_json``) as CSV or JSON."""
    if fmt == "csv":
        return matrix.to_csv().encode("utf-8")
    if fmt == "json":
        return matrix.to_json().encode("utf-8")
    raise RecsysCoreError(f"cannot export a matrix as {fmt!r}; use csv or json.")


def export_bytes(result: Any, fig: go.Figure, fmt: str) -> bytes:
    """One export of a result (csv, json: anything with ``to_csv`` / ``to_json``, a matrix, the
    Compare page's comparison, rank agreement or stability) or of its figure (png, svg, pdf,
    html): the one path every figure of the dashboard and the command line is exported through."""
    if fmt not in FORMATS:
        raise RecsysCoreError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    return matrix_bytes(result, fmt) if fmt in ("csv", "json") else figure_bytes(fig, fmt)


def write_export(matrix: Any, fig: go.Figure, fmt: str, out: str | Path) -> Path:
    """Write one export of a matrix (csv, json) or of its figure (png, svg, pdf, html) to ``out``."""
    data = export_bytes(matrix, fig, fmt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def export_run(
    run: Any,
    fmt: str,
    out: str | Path,
    method: str = "native",
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    row: int | None = None,
    order: str = "group",
    noise: bool = True,
    fields: str = "columns",
) -> Path:
    """Write one view of a saved run (or, with ``fmt="report"``, the whole-run HTML report).

    ``noise``: with the map's noise floor and verdict (``analysis.noise``), in the figure's
    subtitle and pale cells, and in the CSV / JSON, as on the Interactions page. ``fields``: the
    fields of a tii / archipelago map, ``"columns"`` or ``"blocks"`` (``analysis.columns``)."""
    from recsys_core.analysis.views import available_methods, interaction_matrix
    from recsys_core.viz.report import run_report
    from recsys_core.viz.views import view_figure

    if fmt not in RUN_FORMATS:
        raise RecsysCoreError(
            f"unknown export format {fmt!r}; use one of {', '.join(RUN_FORMATS)}."
        )
    out = Path(out)
    if fmt == "report":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(run_report(run, order=order, noise=noise), encoding="utf-8")
        return out
    if method == "native" and "native" not in available_methods(run):
        method = "tii"  # the model-agnostic view every model has
    result = interaction_matrix(
        run, method, row=row, view=view, layer=layer, head=head, noise=noise, fields=fields
    )
    shown = result.ordered(order) if hasattr(result, "ordered") else result
    return write_export(shown, view_figure(shown), fmt, out)
