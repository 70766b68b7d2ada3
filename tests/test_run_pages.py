"""AppTest runs of the run page and of Home as a run browser: open a run from Home, name and tag it
and find it by search, compare three runs' curves, pages of runs, a link to a deleted run."""

import json

import pytest

from recsys_core import dashboard
from recsys_core.access import AccessDenied
from recsys_core.cli import config_of_command
from recsys_core.runs import RunStore
from tests.app_pages import open_page as _page
from tests.fake_runs import fake_run


@pytest.fixture()
def store_at(monkeypatch):
    def use(path):
        monkeypatch.setenv("RECSYS_CORE_RUNS", str(path))
        for cache in (dashboard.job_manager, dashboard._cached_matrix, dashboard._cached_run,
                      dashboard._cached_pair, dashboard._cached_menu):  # fmt: skip
            cache.cache_clear()
        return RunStore(path)

    yield use
    dashboard.job_manager.cache_clear()


@pytest.fixture()
def three(saved, tmp_path, store_at):
    """Three FM / DLRM runs with different learning rates and curves, in a store of their own."""
    for k, (model, lr) in enumerate((("fm", 0.02), ("fm", 0.002), ("dlrm", 0.005))):
        fake_run(saved.path, tmp_path, f"{model}-run-{k}", created=f"2026-01-0{k + 1}T00:00:00+0000",
                 model=model, train={"learning_rate": lr}, test={"rmse": 0.95 - k / 100, "mae": 0.75},
                 losses=[1.3 - k / 10, 1.1 - k / 10, 1.0 - k / 10])  # fmt: skip
    return store_at(tmp_path)



def _links(at):
    """Every st.page_link on the page: (page name, label, query string)."""
    return [(e.proto.page, e.proto.label, e.proto.query_string) for e in at.get("page_link")]


def _param(at, name):
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def test_home_opens_a_run_page_that_shows_the_whole_run(three):
    home = _page("home")
    table = home.dataframe[0].value
    assert table["run_id"].tolist() == ["dlrm-run-2", "fm-run-1", "fm-run-0"]  # newest first
    assert table["link"].tolist() == [f"run?id={r}" for r in table["run_id"]]
    assert {"test_rmse", "test_mae"} <= set(table.columns) and "test_auc" not in table.columns
    link = table["link"].iloc[1]  # what a click on the row's "open" opens
    run = _page("run", id=link.split("=", 1)[1])
    meta = three.open("fm-run-1").meta
    assert run.title[0].value == "fm-run-1"  # its id (no name yet), as text
    shown = {m.label: m.value for m in run.metric}
    assert shown["test rmse"] == f"{meta['test']['rmse']:.4f}"
    assert shown["parameters"] == f"{meta['params']:,}"
    config = run.dataframe[0].value.set_index("setting")
    assert config.loc["learning_rate", "value"] == "0.002" and config.loc["learning_rate", "changed"]
    assert config.loc["batch_size", "changed"] == (meta["config"]["train"]["batch_size"] != 1024)
    (command,) = [c.value for c in run.code]
    assert config_of_command(command) == three.open("fm-run-1").config  # trains the same run
    curves = json.loads(run.get("plotly_chart")[0].proto.spec)["data"]
    assert [t["y"] for t in curves if t["name"] == "train loss"] == [[1.2, 1.0, 0.9]]
    assert ("interactions", "Interactions", "run=fm-run-1") in _links(run)
    assert ("compare", "Compare with another run", "a=fm-run-1") in _links(run)
    assert _param(run, "id") == "fm-run-1"  # the URL to share
    assert any(b.label == "Run report (HTML)" for b in run.get("download_button"))


def test_rename_and_tag_a_run_on_its_page_then_find_it_by_search(three):
    run = _page("run", id="fm-run-0")
    next(w for w in run.text_input if w.label == "Name").input("lr sweep best")
    next(w for w in run.text_input if w.label.startswith("Tags")).input("sweep-lr, paper")
    run.text_area[0].input("beats the baseline\n<b>no HTML</b>")
    next(b for b in run.button if b.label == "Save").click().run()
    assert not run.exception and not run.error, [e.value for e in run.error]
    assert run.title[0].value == "lr sweep best"
    assert any(m.value == "`sweep-lr` `paper`" for m in run.markdown)
    said = three.open("fm-run-0").annotations
    assert said.name == "lr sweep best" and said.note == "beats the baseline\n<b>no HTML</b>"
    # a bad tag is one message, and nothing changes
    next(w for w in run.text_input if w.label.startswith("Tags")).input("two words")
    next(b for b in run.button if b.label == "Save").click().run()
    assert any("not one word" in e.value for e in run.error)
    assert three.open("fm-run-0").annotations.tags == ("sweep-lr", "paper")
    # Home lists the name and tags and finds the run by them
    home = _page("home")
    row = home.dataframe[0].value.set_index("run_id").loc["fm-run-0"]
    assert row["name"] == "lr sweep best" and row["tags"] == "sweep-lr, paper"
    home.text_input(key="runs_q").input("sweep best").run()
    assert home.dataframe[0].value["run_id"].tolist() == ["fm-run-0"]
    assert _param(home, "q") == "sweep best"
    found = _page("home", q="tag:paper")  # the search is in the URL: a shared link finds it too
    assert found.dataframe[0].value["run_id"].tolist() == ["fm-run-0"]
    assert any("1 of 3 run(s) match" in c.value for c in found.caption)


def test_compare_three_runs_curves_and_settings_on_home(three, plotly_array):
    home = _page("home")
    home.multiselect(key="runs_cmp").select("fm-run-0").select("fm-run-1").select("dlrm-run-2").run()
    assert not home.exception, home.exception
    assert _param(home, "cmp") == "fm-run-0,fm-run-1,dlrm-run-2"
    specs = [json.loads(c.proto.spec) for c in home.get("plotly_chart")]
    (curves,) = [s for s in specs if s["layout"].get("xaxis2") and "training loss" in json.dumps(s["layout"])]  # fmt: skip
    loss = [t for t in curves["data"] if t.get("xaxis", "x") == "x"]
    assert [t["name"] for t in loss] == ["fm-run-0", "fm-run-1", "dlrm-run-2"]
    for k, trace in enumerate(loss):
        expected = [1.3 - k / 10, 1.1 - k / 10, 1.0 - k / 10]
        assert list(plotly_array(trace["y"])) == pytest.approx(expected)
    assert len([t for t in curves["data"] if t.get("xaxis") == "x2"]) == 3
    diff = next(d.value for d in home.dataframe if "setting" in d.value.columns).set_index("setting")
    assert diff.loc["learning_rate"].tolist() == ["0.02", "0.002", "0.005"]
    assert diff.loc["model"].tolist() == ["fm", "fm", "dlrm"]
    assert ("run", "Open fm-run-1", "id=fm-run-1") in _links(home)
    assert ("compare", "Compare their interaction maps", "runs=fm-run-0%2Cfm-run-1%2Cdlrm-run-2") in _links(home)  # fmt: skip
    # hyper-parameters against the test metric, for the two FM runs
    (par,) = [s["data"][0] for s in specs if s["data"][0]["type"] == "parcoords"]
    assert [d["label"] for d in par["dimensions"]] == ["log10 learning_rate", "test rmse"]


def test_home_pages_past_100_runs_and_filters_by_task(saved, tmp_path, store_at):
    for k in range(120):
        fake_run(saved.path, tmp_path, f"run-{k:03d}", created=f"2026-01-01T00:{k // 60:02d}:{k % 60:02d}+0000",
                 task="binary" if k < 10 else None,
                 test={"auc": 0.7, "log_loss": 0.6} if k < 10 else None)  # fmt: skip
    store_at(tmp_path)
    home = _page("home")
    assert len(home.dataframe[0].value) == 100
    assert any("120 of 120 run(s) match; showing 1–100" in c.value for c in home.caption)
    assert "test" in home.dataframe[0].value.columns  # both tasks: one text column, never empty
    home.number_input(key="runs_page").set_value(2).run()
    assert home.dataframe[0].value["run_id"].tolist()[-1] == "run-000"
    assert len(home.dataframe[0].value) == 20 and _param(home, "page") == "2"
    home.selectbox(key="runs_task").set_value("binary").run()  # new filter: back to page 1
    table = home.dataframe[0].value
    assert len(table) == 10 and {"test_auc", "test_log_loss"} <= set(table.columns)
    assert _param(home, "task") == "binary" and _param(home, "page") is None


def test_a_link_to_a_deleted_run_says_so_and_offers_the_list(three):
    three.delete("fm-run-1")
    run = _page("run", id="fm-run-1")
    assert any("'fm-run-1' does not exist (it may have been deleted)" in e.value.replace("\\", "")
               for e in run.error)  # fmt: skip
    assert ("", "See the saved runs", "") in _links(run)  # Home, the default page: the list
    assert not run.metric and not run.code  # and never another run instead
    home = _page("home", cmp="fm-run-0,fm-run-1")
    assert any("fm-run-1" in w.value and "left out of the comparison" in w.value for w in home.warning)
    assert home.multiselect(key="runs_cmp").value == ["fm-run-0"]
    bad = _page("run", id="../etc")
    assert any("is not a run id" in e.value for e in bad.error)


def test_viewer_mode_shows_the_run_but_nobody_may_rename_it(three, monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MODE", "viewer")
    run = _page("run", id="fm-run-0")
    assert run.metric and not run.text_input and not any(b.label == "Save" for b in run.button)
    with pytest.raises(AccessDenied, match="read-only"):
        dashboard.annotate_run("fm-run-0", name="forged")
    assert three.open("fm-run-0").annotations.name == ""


def test_the_run_page_without_an_id_offers_the_runs(three):
    run = _page("run")
    picker = run.selectbox[0]
    assert picker.options == ["dlrm-run-2", "fm-run-1", "fm-run-0"]
    picker.set_value("fm-run-0").run()
    assert _param(run, "id") == "fm-run-0" and run.title[0].value == "fm-run-0"


def test_analysis_pages_link_to_the_run_page(store_at, saved, runs_dir):
    store_at(runs_dir)
    at = _page("interactions", run=saved.run_id)
    assert ("run", "Its run page", f"id={saved.run_id}") in _links(at)
