"""Time every native view and TII of saved DLRM, DCN-V2, AutoInt and DeepFM runs, on MovieLens 100K
and on a generated 26-field table.

Each model is trained briefly (the timings do not depend on how well it is trained) on

- ``movielens``: MovieLens 100K with the default features (5 categorical fields, the continuous
  block and the pooled genres: 7 interaction fields), and
- ``fields26``: a planted CTR table (``recsys_core.data.planted.ctr_table``) with 26 categorical
  fields ``C1``..``C26`` of Criteo-Kaggle-shaped vocabularies capped at ``--max-vocab`` (default
  1,000) and four planted pairs, binary task, generated in memory,

saved into a temporary run store and opened again from it (as the dashboard does: the model is
loaded from ``model.keras``, the held-out rows from ``holdout.parquet``, 2,000 of them). Then each
analysis goes through ``recsys_core.analysis.views.interaction_matrix(run, method, view=...)``
(default layer / head, averaged over the held-out rows): every native view of the model's class
(``native_views``), TII (200 bootstrap resamples) and, for AutoInt, the Attention page's
every-layer-and-head grid (``attention_grid``), and the TII map read back from the run folder, where
the dashboard saves it (``recsys_core.analysis.saved``). One first call (compilation included) is reported,
then the median of ``--runs`` further calls. Prints the machine and the load average.

Noise floors (``recsys_core.analysis.noise``, ``--floors``, on by default): the cost of the run's
references once (the initial model rebuilt from the seed, the additive part, the four trainings on
label-permuted held-out rows; cached per model afterwards), then, per view, what the floor adds to
the view on the cached references (the same view computed for each reference), and the TII map
with its floor read back from the run folder as the dashboard does.

    .venv/bin/python benchmarks/bench_analysis.py [--runs 3] [--epochs 1] [--rows 30000] [--no-floors]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from recsys_core import _backend  # noqa: F401

# isort: split
from machine import describe_machine

from recsys_core.analysis.native import native_views
from recsys_core.analysis.native.attention import attention_grid
from recsys_core.analysis.saved import load_result, result_key, save_result
from recsys_core.analysis.views import interaction_matrix, run_references
from recsys_core.data.planted import ctr_table
from recsys_core.runs.store import RunStore, SavedRun
from recsys_core.training.engine import TrainConfig
from recsys_core.training.pipeline import RunConfig, train_run

MODELS = ("dlrm", "dcn_v2", "autoint", "deepfm")
# Distinct values of the Criteo Kaggle categorical columns C1..C26 (capped by --max-vocab).
CRITEO_VOCABS = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)  # fmt: skip
PAIRS26 = (("C1", "C2", 1.0), ("C6", "C9", 0.8), ("C14", "C20", 0.6), ("C17", "C26", 0.4))


def table26(n_rows: int, max_vocab: int):
    fields = [
        (f"C{i}", max(2, min(v, max_vocab)), "ad" if i <= 13 else "context", v > 100)
        for i, v in enumerate(CRITEO_VOCABS, start=1)
    ]
    table, spec, _ = ctr_table(n_rows, seed=0, task="binary", fields=fields, pairs=PAIRS26)
    return table, spec


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, list[float]]:
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), times


def analyses(run: SavedRun) -> list[tuple[str, Callable[[], object]]]:
    out: list[tuple[str, Callable[[], object]]] = [
        (f"native {v.name}", lambda v=v: interaction_matrix(run, "native", view=v.name))
        for v in native_views(run.model)
    ]
    out.append(("tii", lambda: interaction_matrix(run, "tii")))
    if run.meta["model"] == "autoint":
        out.append(
            (
                "attention grid (all layers x heads)",
                lambda: attention_grid(run.model, run.preprocessor, run.holdout()),
            )
        )
    return out


def floors(run: SavedRun) -> list[tuple[str, Callable[[], object]]]:
    """The noise-floor steps: each view with its floor, on the references already cached."""
    out: list[tuple[str, Callable[[], object]]] = [
        (
            f"native {v.name} + floor",
            lambda v=v: interaction_matrix(run, "native", view=v.name, noise=True),
        )
        for v in native_views(run.model)
        if v.kind != "weights-only"
    ]
    out.append(("tii + floor", lambda: interaction_matrix(run, "tii", noise=True)))
    out.append(("archipelago row 0 + floor", lambda: interaction_matrix(run, "archipelago", row=0, noise=True)))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed calls after the first")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per model")
    parser.add_argument("--rows", type=int, default=30_000, help="rows of the 26-field table")
    parser.add_argument("--max-vocab", type=int, default=1_000, help="26-field vocabulary cap")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--tables", default="movielens,fields26", help="movielens and/or fields26")
    parser.add_argument("--no-floors", dest="floors", action="store_false",
                        help="skip the noise floors")  # fmt: skip
    args = parser.parse_args()

    print(describe_machine())
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rows: list[tuple[str, str, int, str, float, float, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as root:
        store = RunStore(root)
        for table_name in tables:
            if table_name == "movielens":
                table = spec = None
                task = "regression"
            elif table_name == "fields26":
                table, spec = table26(args.rows, args.max_vocab)
                task = "binary"
            else:
                raise SystemExit(f"unknown table {table_name!r}: use movielens and/or fields26.")
            for model in models:
                t0 = time.perf_counter()
                trained = train_run(
                    RunConfig(
                        model=model,
                        task=task,
                        train=TrainConfig(epochs=args.epochs, batch_size=1024, patience=0),
                    ),
                    table=table,
                    spec=spec,
                )
                saved = store.save(trained, run_id=f"{model}-{table_name}")
                train_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                run = store.open(saved.run_id)
                n_fields = len(run.model.field_names)  # loads model.keras
                open_s = time.perf_counter() - t0
                print(
                    f"{model} on {table_name}: {n_fields} fields, {trained.params:,} parameters, "
                    f"trained and saved in {train_s:.1f} s, reopened (model loaded) in {open_s:.2f} s",
                    flush=True,
                )
                # what a restarted dashboard does for a map saved beside the run
                key = result_key("tii")
                save_result(run.path, key, interaction_matrix(run, "tii"))
                read_back = functools.partial(load_result, run.path, key)
                steps = [*analyses(run), ("tii, saved map read back", read_back)]
                if args.floors:
                    t0 = time.perf_counter()
                    refs = run_references(run)  # trained once, then cached on the model
                    ref_s = time.perf_counter() - t0
                    rows.append((model, table_name, n_fields, "floor references (once)", ref_s,
                                 ref_s, [ref_s]))  # fmt: skip
                    parts = ", ".join(f"{k} {v:.2f} s" for k, v in refs.timings.items())
                    print(f"  floor references: {ref_s:.2f} s ({parts}); {refs.describe()}")
                    key_floor = result_key("tii")  # what the dashboard saves: the map and floor
                    save_result(run.path, key_floor, interaction_matrix(run, "tii", noise=True))
                    steps += [*floors(run), ("tii + floor, saved map read back",
                                             functools.partial(load_result, run.path, key_floor))]  # fmt: skip
                for name, fn in steps:
                    first, median, times = timed(fn, args.runs)
                    rows.append((model, table_name, n_fields, name, first, median, times))
                    print(
                        f"  {name}: first {first:.2f} s, median {median:.3f} s "
                        f"({', '.join(f'{t:.3f}' for t in times)})",
                        flush=True,
                    )

    print()
    print(f"median of {args.runs} calls after the first; 2,000 held-out rows per run")
    header = ("model", "table", "fields", "method/view", "first call s", "median s")
    widths = (8, 10, 6, 36, 12, 9)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for model, table_name, n_fields, name, first, median, _ in rows:
        cells = (model, table_name, str(n_fields), name, f"{first:.2f}", f"{median:.3f}")
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average at the end: {load} (1/5/15 min), {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
