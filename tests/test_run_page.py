"""The run page's data (recsys_core.service.run_page): settings against defaults, the command that
trains the run again, the maps saved beside it."""

import dataclasses
import shlex
import shutil

import pandas as pd
import pytest

from recsys_core import dashboard
from recsys_core.cli import config_of_command
from recsys_core.runs import RunStore
from recsys_core.service.run_page import (
    config_rows,
    reproduce_command,
    saved_maps,
    summarize_run,
    without_paths,
)
from recsys_core.training import RunConfig, TrainConfig

CONFIGS = {
    "defaults": RunConfig(),
    "everything changed": RunConfig(
        model="dcn_v2",
        task="binary",
        features="tutorial",
        hparams={"embedding_dim": 12, "dnn": [64, 32], "num_cross_layers": 3, "dropout": 0.15,
                 "structure": "parallel"},
        train=TrainConfig(epochs=7, batch_size=512, learning_rate=0.0031, weight_decay=0.0,
                          clipnorm=None, schedule="constant", patience=0, seed=7,
                          distribution="data"),  # fmt: skip
        split="time",
        test_fraction=0.25,
        split_seed=3,
        validation_fraction=0.15,
        refit=False,
    ),
    "an odd float": RunConfig(model="fm", train=TrainConfig(learning_rate=0.1 + 0.2)),
}


def _resolved(config: RunConfig) -> RunConfig:
    """As a run saves it: every hyper-parameter resolved against the model's defaults."""
    from recsys_core.models.registry import resolve_hparams

    return dataclasses.replace(config, hparams=resolve_hparams(config.model, config.hparams))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_reproduce_command_trains_the_same_run_config(name):
    config = _resolved(CONFIGS[name])
    command = reproduce_command(config)
    assert command.startswith("recsys-core train --model ")
    assert config_of_command(command) == config  # what `recsys-core train` would train
    if name == "defaults":
        assert command == "recsys-core train --model dlrm"  # only what differs from the defaults


def test_the_reproduce_command_of_the_saved_run(saved):
    config = RunStore(saved.path.parent).open(saved.run_id).config
    command = summarize_run(saved).command
    assert "--param top_mlp=32,16" in command and "--epochs 3" in command
    assert config_of_command(command) == config


def _table(tmp_path):
    from recsys_core.data import synthetic_ratings

    df = synthetic_ratings(n_rows=300, n_users=20, n_movies=25, seed=4)
    df["movie_genres"] = df["movie_genres"].map("|".join)
    df["row_id"] = range(len(df))
    path = tmp_path / "my ratings.csv"  # a space: the command quotes it
    df.drop(columns=["movie_title"]).to_csv(path, index=False)
    return path


def test_a_table_runs_command_reads_the_same_table_the_same_way(tmp_path, monkeypatch):
    path = _table(tmp_path)
    given = (f"recsys-core train --model deepfm --data {shlex.quote(str(path))} --target user_rating "
             "--task binary --binary-threshold 4 --ignore timestamp "
             "--groups 'user:user_id,user_gender;item:movie_id,movie_genres' --epochs 2")  # fmt: skip
    config = config_of_command(given)
    assert config.dataset == "table" and config.data["spec"]["groups"]["user_id"] == "user"
    full = reproduce_command(config, full_paths=True)
    assert str(path) in shlex.split(full)
    assert config_of_command(full) == config
    # on a page only the file's name shows (no server folders), with a note; in its folder the
    # command still reads the same table the same way
    page = reproduce_command(config)
    assert str(tmp_path) not in page and "'my ratings.csv'" in page
    monkeypatch.chdir(tmp_path)
    assert config_of_command(page) == config


def test_an_uploaded_tables_command_names_the_file_and_says_where_it_went(saved):
    config = dataclasses.replace(
        saved.config, dataset="table", features="table",
        data={"name": "up.csv", "path": None, "target": "user_rating",
              "spec": {"categorical": ["user_id"], "target": "user_rating"},
              "schema": [{"column": "note", "role": "ignore", "reason": "given (free text)"},
                         {"column": "user_id", "role": "categorical", "reason": "given (ids)"},
                         {"column": "age", "role": "continuous", "reason": "many numbers"}]},
    )  # fmt: skip
    summary_command = reproduce_command(config)
    assert "--data up.csv --target user_rating --categorical user_id --ignore note" in summary_command
    assert "age" not in summary_command  # inferred again from the same file: not named


def test_config_rows_flag_changed_values_against_this_releases_defaults():
    config = _resolved(CONFIGS["everything changed"])
    rows = config_rows(config).set_index("setting")
    assert rows.loc["embedding_dim", "changed"] and rows.loc["embedding_dim", "value"] == "12"
    assert rows.loc["dnn", "value"] == "64, 32" and rows.loc["dnn", "changed"]
    assert rows.loc["learning_rate", "default"] == "0.005" and rows.loc["learning_rate", "changed"]
    assert rows.loc["refit", "changed"] and rows.loc["task", "changed"]
    untouched = config_rows(_resolved(RunConfig()))
    assert not untouched["changed"].any()  # the defaults are all dimmed
    assert set(untouched["section"]) == {"model", "training", "data"}
    odd = config_rows(dataclasses.replace(RunConfig(), hparams={"gone": 1})).set_index("setting")
    assert odd.loc["gone", "changed"] and odd.loc["gone", "default"] == "–"


def _copy_without_maps(saved, root):
    """A copy of the shared run without the maps other tests saved beside it."""
    shutil.copytree(saved.path, root / saved.run_id)
    shutil.rmtree(root / saved.run_id / "analyses", ignore_errors=True)


def test_summary_reads_the_run_without_its_model(saved, tmp_path):
    _copy_without_maps(saved, tmp_path)
    run = RunStore(tmp_path).open(saved.run_id)
    summary = summarize_run(run)
    assert run._model is None  # the page opens without loading Keras' model
    assert summary.title == saved.run_id and summary.model_title == "DLRM"
    assert summary.metrics == {k: v for k, v in saved.meta["test"].items() if v is not None}
    assert summary.history == saved.meta["history"]
    assert summary.refit_history == saved.meta["refit_history"]
    assert summary.params == saved.meta["params"]
    assert summary.timings["epochs trained"] == len(saved.meta["history"])
    assert [p[0] for p in summary.pages] == ["interactions.py", "compare.py"]
    assert summary.maps == []
    RunStore(tmp_path).annotate(saved.run_id, name="named")
    assert summarize_run(RunStore(tmp_path).open(saved.run_id)).title == "named"


def test_server_paths_are_cut_to_file_names():
    text = "cache (/root/.cache/recsys_core/movielens-100k.parquet, originally from pypi:x==1)"
    assert without_paths(text) == "cache (movielens-100k.parquet, originally from pypi:x==1)"


def test_saved_maps_link_to_the_page_and_view_that_draw_them(saved, tmp_path, monkeypatch):
    _copy_without_maps(saved, tmp_path)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix,
                  dashboard._cached_menu):  # fmt: skip
        cache.cache_clear()
    try:
        dashboard.run_matrix(saved.run_id, "tii")
        dashboard.run_matrix(saved.run_id, "native", view="pair_terms")
        maps = saved_maps(RunStore(tmp_path).open(saved.run_id))
    finally:
        dashboard.job_manager.cache_clear()
    by_method = {m.query["method"]: m for m in maps}
    assert set(by_method) == {"native", "tii"}
    assert by_method["tii"].page == "interactions.py"
    assert by_method["tii"].query == {"run": saved.run_id, "method": "tii"}
    assert by_method["native"].query["view"] == "pair_terms" and by_method["native"].current
    assert maps[0].query["method"] == "native"  # native first, as on the Interactions page
    # a file written by other code is listed as stale (the page computes it again)
    for path in (tmp_path / saved.run_id / "analyses").glob("*.json"):
        text = path.read_text().replace('"code": "', '"code": "x')
        path.write_text(text)
    assert not any(m.current for m in saved_maps(RunStore(tmp_path).open(saved.run_id)))
    assert isinstance(config_rows(saved.config), pd.DataFrame)
