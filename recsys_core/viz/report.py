"""A one-file HTML report of a run: config, metrics, curves and every map with its explanation.

The file embeds plotly.js once and every figure as an interactive div, so it opens offline in any
browser and can be mailed as it is. All text from the run (names, values, hyper-parameters) is
HTML-escaped: a column called ``<script>`` is shown, never executed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

import plotly.graph_objects as go

from recsys_core.analysis import saved
from recsys_core.analysis.compare import match_fields, restrict
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.noise import verdict_line
from recsys_core.analysis.stability import Stability, seed_stability
from recsys_core.analysis.views import available_methods, interaction_matrix, run_native_views
from recsys_core.errors import RecsysCoreError
from recsys_core.runs.provenance import describe
from recsys_core.runs.seeds import seed_group
from recsys_core.runs.store import RunStore, SavedRun
from recsys_core.training.health import health_line, verdict_of_run
from recsys_core.viz.compare import stability_figure
from recsys_core.viz.curves import training_curves_figure
from recsys_core.viz.views import view_figure

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { padding: .25rem .8rem;
       border-bottom: 1px solid #eee; text-align: left; font-size: .92rem; }
.kind { font-weight: 600; } .note { color: #555; font-size: .92rem; } .err { color: #a00; }
"""


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _views(run: SavedRun) -> Iterator[tuple[str, dict[str, Any]]]:
    """(heading, interaction_matrix kwargs) of every map of the run: each native view at each of
    its layers and heads, then the model-agnostic views."""
    if "native" in available_methods(run):
        for view in run_native_views(run):
            options = view.options(run.model)
            for layer in range(options.get("layer", 1)):
                for head in range(options.get("head", 1)):
                    where = "".join(
                        f", {name} {value}"
                        for name, value in (("layer", layer), ("head", head))
                        if name in options
                    )
                    yield (
                        f"Native: {view.title}{where}",
                        {
                            "method": "native",
                            "view": view.name,
                            "layer": layer if "layer" in options else None,
                            "head": head if "head" in options else None,
                        },
                    )
    yield "Total Interaction Index (model-agnostic)", {"method": "tii"}
    yield "Archipelago, held-out row 0 (model-agnostic)", {"method": "archipelago", "row": 0}


def _annotations(run: SavedRun) -> list[str]:
    """The report's lines about what people said of the run and who trained it: a report mailed
    on should carry the run's name and note, not only its id."""
    said = run.annotations
    trained_by = describe(run.meta.get("provenance"))
    lines = []
    if said.name:
        lines.append(f"<p><b>Name</b> — {html.escape(said.name)}</p>")
    if said.tags:
        lines.append(f"<p><b>Tags</b> — {html.escape(', '.join(said.tags))}</p>")
    if said.note:
        note = "<br>".join(html.escape(line) for line in said.note.splitlines())
        lines.append(f"<p><b>Note</b> — {note}</p>")
    if trained_by:
        lines.append(f"<p class='note'>{html.escape(trained_by[:1].upper() + trained_by[1:])}</p>")
    return lines


REPORT_SEEDS = 12  # seeds of one config in the stability section (each needs its TII map)


def _tii_map(run: SavedRun) -> InteractionMatrix:
    """The run's TII map: the one saved beside it (the dashboard's), else computed without the
    noise floor (the stability section compares seeds with each other, not with references)."""
    found = saved.load_result(run.path, saved.result_key("tii"))
    if isinstance(found, InteractionMatrix):
        return found
    return interaction_matrix(run, "tii", noise=False)


def seed_stability_of(run: SavedRun, limit: int = REPORT_SEEDS) -> Stability | None:
    """The stability across seeds (``analysis.stability``) of the TII maps of ``run`` and the runs
    of its store that share its configuration apart from the seed (``runs.seeds``, e.g. trained
    with ``--trials``), at most ``limit`` of them; None when the run has no such sibling."""
    store = RunStore(run.path.parent)
    group = seed_group(store, run.run_id)
    if len(group) < 2:
        return None
    if run.run_id not in group[:limit]:
        group = [run.run_id, *[r for r in group if r != run.run_id]]
    shown = group[:limit]
    maps = [_tii_map(run if r == run.run_id else store.open(r)) for r in shown]
    match = match_fields(maps, shown)
    return seed_stability([restrict(m, match.common) for m in maps], shown)


def _rho_table(stability: Stability) -> str:
    names = stability.agreement.names
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{html.escape(a)}</th>"
        + "".join(f"<td>{v:.2f}</td>" for v in stability.agreement.rho[i])
        + "</tr>"
        for i, a in enumerate(names)
    )
    return f"<table><tr><th>Spearman ρ</th>{head}</tr>{rows}</table>"


def _stability_parts(run: SavedRun, order: str) -> tuple[list[str], list[go.Figure]]:
    """The report's section on stability across seeds (empty for a run without seed siblings)."""
    try:
        stability = seed_stability_of(run)
    except RecsysCoreError as exc:
        return ["<h2>Stability across seeds</h2>", f"<p class='err'>{html.escape(str(exc))}</p>"], []
    if stability is None:
        return [], []
    unstable = stability.unstable_cells()
    listed = (
        "<p><b>Unstable</b> — " + html.escape("; ".join(f"{a} × {b}" for a, b in unstable)) + "</p>"
        if unstable
        else "<p><b>Unstable</b> — none.</p>"
    )
    parts = [
        "<h2>Stability across seeds</h2>",
        f"<p class='note'>This run is one of {len(stability.names)} runs of one configuration "
        f"that differ only in their seed ({html.escape(', '.join(stability.names))}). Their TII "
        "maps, cell by cell: the mean, its standard deviation across the seeds on hover, "
        "unstable cells crossed.</p>",
        "{figure}",
        f"<p><b>Stability</b> — {html.escape(stability.summary())}</p>",
        f"<p class='note'>Rule: {html.escape(stability.rule)}.</p>",
        listed,
        "<p class='note'>Rank agreement of every two seeds: Spearman's rank correlation of their "
        "pair values (Spearman 1904).</p>",
        _rho_table(stability),
    ]
    return parts, [stability_figure(stability, order)]


def run_report(
    run: SavedRun,
    order: str = "group",
    max_maps: int = 24,
    noise: bool = True,
    stability: bool = True,
) -> str:
    """The report of ``run`` as one self-contained HTML document (at most ``max_maps`` maps),
    each map with its noise floor and verdict unless ``noise`` is False (``analysis.noise``);
    with ``stability``, for a run with seed siblings in its store (``--trials``), how its TII map
    varies across the seeds (``analysis.stability``)."""
    meta = run.meta
    config = meta.get("config", {})
    verdict = verdict_of_run(meta)
    parts = [
        f"<h1>Run {html.escape(run.run_id)}: {html.escape(str(meta.get('model')))} "
        f"({html.escape(str(meta.get('task')))})</h1>",
        f"<p class='note'>Dataset {html.escape(str(meta.get('dataset')))} · "
        f"{html.escape(str(meta.get('data_source', '')))} · created "
        f"{html.escape(str(meta.get('created', '')))}</p>",
        *_annotations(run),  # its name, tags, note and who trained it (runs.annotations)
        # did it learn? first, so nobody reads the maps of a model that did not (training.health)
        f"<p class='{'err' if verdict.warns else 'note'}'><b>Health</b> — "
        f"{html.escape(health_line(verdict))}"
        + (" — its maps show noise, not learned interactions." if verdict.warns else "")
        + "</p>",
        "<h2>Test metrics</h2>",
        _table(
            {
                **{f"test {k}": v for k, v in meta.get("test", {}).items()},
                "parameters": meta.get("params"),
                "training seconds": meta.get("train_seconds"),
                "best epoch": meta.get("best_epoch"),
            }
        ),
        "<h2>Configuration</h2>",
        _table(
            {
                "fields": meta.get("fields"),
                **{f"hparam {k}": v for k, v in config.get("hparams", {}).items()},
                **{f"train {k}": v for k, v in config.get("train", {}).items()},
            }
        ),
    ]
    figures: list[go.Figure] = []
    if meta.get("history"):
        parts.append("<h2>Training curves</h2>")
        figures.append(training_curves_figure(meta["history"]))
        parts.append("{figure}")
    if stability:  # before the maps: which of their cells hold across seeds
        more, shown = _stability_parts(run, order)
        parts += more
        figures += shown
    for count, (heading, kwargs) in enumerate(_views(run)):
        if count >= max_maps:
            parts.append(f"<p class='note'>Further maps omitted (limit {max_maps}).</p>")
            break
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        try:
            result = interaction_matrix(run, **kwargs, noise=noise)
        except RecsysCoreError as exc:
            parts.append(f"<p class='err'>{html.escape(str(exc))}</p>")
            continue
        shown = result.ordered(order) if hasattr(result, "ordered") else result
        figures.append(view_figure(shown))
        parts.append("{figure}")
        parts.append(
            f"<p class='note'><span class='kind'>{html.escape(result.kind)}</span> — "
            f"{html.escape(result.description)}</p>"
        )
        if verdict_line(result):  # the map's verdict against its noise floor
            parts.append(f"<p><b>Verdict</b> — {html.escape(verdict_line(result))}</p>")
    body, k = [], 0
    for part in parts:
        if part == "{figure}":
            # plotly.js goes inline once, with the first figure; the others reuse it.
            body.append(figures[k].to_html(full_html=False, include_plotlyjs=k == 0))
            k += 1
        else:
            body.append(part)
    title = html.escape(f"recsys-core report · {run.run_id}")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}"
        "<p class='note'>Made by recsys-core.</p></body></html>"
    )
