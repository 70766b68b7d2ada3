import json

import pytest

from recsys_core.cli import main


def test_interactions_csv_and_json(saved, runs_dir, capsys, tmp_path):
    assert main(["interactions", saved.run_id, "--runs-dir", str(runs_dir)]) == 0
    csv = capsys.readouterr().out.splitlines()
    fields = csv[0].split(",")[1:]
    assert fields[-1] == "continuous" and len(csv) == len(fields) + 1
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


def test_interactions_can_be_ordered_by_group(saved, runs_dir, capsys):
    assert (
        main(["interactions", saved.run_id, "--order", "group", "--runs-dir", str(runs_dir)]) == 0
    )
    fields = capsys.readouterr().out.splitlines()[0].split(",")[1:]
    assert fields[:4] == ["user_gender", "user_zip_code", "user_occupation_text", "user_id"]
    assert fields[4:] == ["movie_id", "movie_genres", "continuous"]
