import json

import pytest

from recsys_core.cli import main
from recsys_core.runs import RunStore


def test_interactions_csv_and_json(saved, runs_dir, capsys, tmp_path):
    assert main(["interactions", saved.run_id, "--runs-dir", str(runs_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    csv = [line for line in lines if not line.startswith("#")]
    fields = csv[0].split(",")[1:]
    assert fields[-1] == "continuous" and len(csv) == len(fields) + 1
    # after the table: what the values are, the verdict against the noise floor, the floor
    notes = {line.split(",")[0]: line for line in lines if line.startswith("#")}
    assert {"# verdict", "# noise floor", "# pairs above noise"} <= set(notes)
    assert lines.index(notes["# verdict"]) > len(fields)
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "interactions",
                saved.run_id,
                "--format",
                "json",
                "--out",
                str(out),
                "--runs-dir",
                str(runs_dir),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["fields"] == fields and len(data["matrix"]) == len(fields)
    assert data["verdict"] == data["extra"]["noise"]["verdict"] == notes["# verdict"].split(",")[1]
    assert main(["interactions", saved.run_id, "--no-noise-floor", "--format", "json",
                 "--runs-dir", str(runs_dir)]) == 0  # fmt: skip
    assert "verdict" not in json.loads(capsys.readouterr().out)


def test_runs_lists_saved_runs(saved, runs_dir, capsys):
    assert main(["runs", "--runs-dir", str(runs_dir), "--json"]) == 0
    assert saved.run_id in {r["run_id"] for r in json.loads(capsys.readouterr().out)}


def test_empty_store_says_how_to_start(tmp_path, capsys):
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    assert "no runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["interactions", "../../etc"], "invalid run id"),
        (["interactions", "missing-run"], "no run 'missing-run'"),
        (["train", "--param", "top_mlp=0"], "out of range"),
        (["train", "--param", "depth=3"], "no hyper-parameter 'depth'"),
        (["train", "--epochs", "0"], "epochs must be >= 1"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, tmp_path, capsys):
    assert main([*argv, "--runs-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.movielens
def test_train_on_movielens_prints_json_and_saves_the_run(movielens, tmp_path, capsys):
    argv = ["train", "--model", "dlrm", "--dataset", "movielens-100k", "--epochs", "2", "--batch-size", "2048",
            "--learning-rate", "0.003", "--seed", "1", "--runs-dir", str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"run_id", "run_dir", "params", "test", "train_seconds"} <= result.keys()
    assert result["test"]["rmse"] < 1.13  # better than predicting the mean rating
    assert (tmp_path / result["run_id"] / "model.keras").exists()


@pytest.mark.parametrize(("method", "extra"), [("tii", []), ("archipelago", ["--row", "2"])])
def test_model_agnostic_methods_from_the_command_line(saved, runs_dir, tmp_path, method, extra):
    out = tmp_path / f"{method}.json"
    argv = ["interactions", saved.run_id, "--method", method, "--format", "json", "--out", str(out)]
    assert main([*argv, *extra, "--runs-dir", str(runs_dir)]) == 0
    data = json.loads(out.read_text())
    n = len(data["fields"])
    assert data["method"] == method and len(data["matrix"]) == n
    assert all(data["matrix"][i][i] is None for i in range(n))
    off = [v for i, r in enumerate(data["matrix"]) for j, v in enumerate(r) if i != j]
    assert all(v >= 0 for v in off) and max(off) > 0
    if method == "tii":
        lower, upper = data["extra"]["lower"], data["extra"]["upper"]
        assert all(
            lower[i][j] <= data["matrix"][i][j] <= upper[i][j]
            for i in range(n)
            for j in range(n)
            if i != j
        )
    else:
        assert data["extra"]["row_index"] == 2


def test_archipelago_row_out_of_range_is_an_error(saved, runs_dir, capsys):
    argv = [
        "interactions",
        saved.run_id,
        "--method",
        "archipelago",
        "--row",
        "99999",
        "--runs-dir",
        str(runs_dir),
    ]
    assert main(argv) == 2
    assert "out of range" in capsys.readouterr().err


def test_trials_report_mean_and_std(tmp_path, capsys, monkeypatch, table):
    from recsys_core.training import pipeline

    monkeypatch.setattr(pipeline, "load_dataset", lambda name: (table, None, "generated"))
    argv = [
        "train",
        "--epochs",
        "1",
        "--trials",
        "2",
        "--seed",
        "5",
        "--param",
        "top_mlp=16",
        "--runs-dir",
        str(tmp_path),
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    seeds = [t["seed"] for t in out["trials"]]
    assert seeds == [5, 6] and len({t["run_id"] for t in out["trials"]}) == 2
    rmses = [t["test"]["rmse"] for t in out["trials"]]
    assert out["summary"]["rmse_mean"] == pytest.approx(sum(rmses) / 2)
    assert out["summary"]["rmse_std"] == pytest.approx(abs(rmses[0] - rmses[1]) / 2)
    run = RunStore(tmp_path).open(out["trials"][0]["run_id"])
    assert run.config.refit and run.meta["refit_epochs"] == 1


def test_no_refit_keeps_the_early_stopped_model(tmp_path, capsys, monkeypatch, table):
    from recsys_core.training import pipeline

    monkeypatch.setattr(pipeline, "load_dataset", lambda name: (table, None, "generated"))
    argv = ["train", "--epochs", "1", "--param", "top_mlp=16", "--no-refit",
            "--runs-dir", str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 0
    run = RunStore(tmp_path).open(json.loads(capsys.readouterr().out)["run_id"])
    assert not run.config.refit and run.meta["refit_epochs"] == 0


def test_interactions_can_be_ordered_by_group(saved, runs_dir, capsys):
    assert (
        main(["interactions", saved.run_id, "--order", "group", "--runs-dir", str(runs_dir)]) == 0
    )
    fields = capsys.readouterr().out.splitlines()[0].split(",")[1:]
    assert fields[:4] == ["user_gender", "user_zip_code", "user_occupation_text", "user_id"]
    assert fields[4:] == ["movie_id", "movie_genres", "continuous"]


def _user_table_file(tmp_path, suffix):
    """A small table of the user's own: strings, ids, a multi-hot column, a 0/1 target."""
    from recsys_core.data import synthetic_ratings

    df = synthetic_ratings(n_rows=400, n_users=20, n_movies=25, seed=3)
    df["clicked"] = (df["user_rating"] >= 4).astype(int)
    df = df.drop(columns=["user_rating", "movie_title", "bucketized_user_age"])
    path = tmp_path / f"clicks{suffix}"
    if suffix == ".csv":
        df["movie_genres"] = df["movie_genres"].map("|".join)
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(("suffix", "model"), [(".csv", "dlrm"), (".parquet", "fm")])
def test_train_on_your_own_table_then_tii(tmp_path, capsys, suffix, model):
    path, runs = _user_table_file(tmp_path, suffix), tmp_path / "runs"
    argv = ["train", "--data", str(path), "--target", "clicked", "--task", "binary", "--model", model,
            "--groups", "user:user_id,user_gender;item:movie_id,movie_genres", "--epochs", "1",
            "--batch-size", "256", "--runs-dir", str(runs), "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == {"name": path.name, "rows": 400, "target": "clicked"}
    meta = json.loads((runs / result["run_id"] / "run.json").read_text())
    data = meta["config"]["data"]
    assert meta["dataset"] == "table" and meta["data_source"] == path.name
    roles = {r["column"]: r["role"] for r in data["schema"]}
    assert roles["movie_genres"] == "multi-hot" and roles["clicked"] == "target"
    assert data["spec"]["groups"]["movie_genres"] == "item"
    assert main(["runs", "--runs-dir", str(runs), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["dataset"] == path.name
    out = tmp_path / "tii.json"
    argv = [
        "interactions",
        result["run_id"],
        "--method",
        "tii",
        "--format",
        "json",
        "--out",
        str(out),
    ]
    assert main([*argv, "--runs-dir", str(runs)]) == 0
    tii = json.loads(out.read_text())
    assert "movie_genres" in tii["fields"] and "clicked" not in tii["fields"]
    assert tii["groups"]["user_id"] == "user"


def test_schema_only_prints_the_roles(tmp_path, capsys):
    path = _user_table_file(tmp_path, ".csv")
    argv = ["train", "--data", str(path), "--target", "clicked", "--continuous", "user_zip_code"]
    assert main([*argv, "--schema-only", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "clicks.csv: 400 rows" in out and "'|'-separated items" in out
    assert "given (inferred" in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "nope"], "'nope' is not in the table"),
        (["--target", "clicked", "--continuous", "user_occupation_text"], "'user_occupation_text'"),
        (["--target", "timestamp", "--task", "binary"], "is not binary"),
        (
            [
                "--target",
                "clicked",
                "--model",
                "afm",
                "--ignore",
                "movie_id,user_zip_code,"
                "user_occupation_text,user_gender,movie_genres,raw_user_age,timestamp",
            ],
            "afm cannot be built",
        ),  # fmt: skip
        (["--categorical", "user_id"], "needs --target COL"),
    ],
)
def test_a_failing_train_on_a_table_leaves_the_store_unchanged(tmp_path, capsys, extra, message):
    path, runs = _user_table_file(tmp_path, ".csv"), tmp_path / "runs"
    (runs / "keep-me").mkdir(parents=True)
    before = sorted(p.name for p in runs.rglob("*"))
    argv = ["train", "--data", str(path), *extra, "--epochs", "1", "--runs-dir", str(runs)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in runs.rglob("*")) == before


def test_table_flags_need_data(tmp_path, capsys):
    assert main(["train", "--target", "y", "--runs-dir", str(tmp_path)]) == 2
    assert "--target: options for your own table" in capsys.readouterr().err


@pytest.mark.parametrize("quiet", [False, True])
def test_the_progress_bar_counts_the_refit_with_a_true_rate(quiet):
    from recsys_core.cli import _progress
    from recsys_core.training.engine import EpochLog

    bar, on_epoch = _progress(4, quiet=quiet)
    for epoch in (1, 2):
        on_epoch(EpochLog(epoch, 4, 0.9, {"rmse": 0.95}, 0.5, 0.5 * epoch))
    on_epoch(EpochLog(1, 2, 0.8, {}, 2.0, 2.0, phase="refit"))  # early stopping chose 2 epochs
    if quiet:
        return  # a disabled bar keeps no clock; it must only not fail
    assert (bar.n, bar.total, bar.desc) == (1, 2, "refit on all training rows: ")
    # 1 epoch that took 2 s: about 0.5 epoch/s, not the thousands a reset clock would show
    assert bar.format_dict["elapsed"] >= 2.0
    assert bar.format_dict["n"] / bar.format_dict["elapsed"] <= 0.5
    bar.close()
