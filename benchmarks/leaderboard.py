"""Train models for several seeds on MovieLens 100K and write a leaderboard (CSV and Markdown).

Run: `.venv/bin/python benchmarks/leaderboard.py --models dlrm,deepfm --seeds 42,43,44 --task regression
--out docs/leaderboard` (all registered models when --models is omitted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from recsys_core.data import load_movielens_100k
from recsys_core.models import MODELS, resolve_hparams
from recsys_core.training import RunConfig, TrainConfig
from recsys_core.training.trials import leaderboard_markdown, run_trials, summarize


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default=",".join(sorted(MODELS)))
    p.add_argument("--seeds", default="42,43,44")
    p.add_argument("--task", default="regression", choices=("regression", "binary"))
    p.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    p.add_argument("--out", default=None, help="write OUT.csv and OUT.md")
    args = p.parse_args(argv)
    table = load_movielens_100k()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name in args.models.split(","):
        config = RunConfig(
            model=name,
            task=args.task,
            hparams=resolve_hparams(name),
            train=TrainConfig(epochs=args.epochs),
        )

        def report(seed, run, name=name):
            metrics = ", ".join(f"{k}={v:.4f}" for k, v in run.test_metrics.items())
            print(
                f"{name} seed {seed}: {metrics} ({run.train_seconds:.1f} s, best epoch {run.history.best_epoch})",
                file=sys.stderr,
            )

        rows.append(
            {"model": name, **summarize(run_trials(config, seeds, table=table, on_run=report))}
        )
    frame = pd.DataFrame(rows)
    key = "rmse_mean" if args.task == "regression" else "auc_mean"
    frame = frame.sort_values(key, ascending=args.task == "regression").reset_index(drop=True)
    text = leaderboard_markdown(frame)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(f"{args.out}.csv", index=False)
        Path(f"{args.out}.md").write_text(text)
    return frame


if __name__ == "__main__":
    main()
