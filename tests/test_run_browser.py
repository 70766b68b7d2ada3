"""Home's run browser (recsys_core.service.run_browser): search, filters, sort, pages, and many runs
compared; and the figures of many runs (recsys_core.viz.runs)."""

import pytest

from recsys_core.query import PageQuery
from recsys_core.runs import RunStore
from recsys_core.service import run_browser as rb
from recsys_core.viz.runs import hparams_figure, overlaid_curves_figure, run_curves_figure
from tests.fake_runs import fake_run


@pytest.fixture(scope="module")
def store(saved, tmp_path_factory):
    """130 runs: DLRM and FM, both tasks, three learning rates, named and tagged in part."""
    root = tmp_path_factory.mktemp("browse")
    for k in range(130):
        binary = k % 5 == 0
        fake_run(
            saved.path, root, f"r{k:03d}",
            created=f"2026-01-01T00:{k // 60:02d}:{k % 60:02d}+0000",
            model="fm" if k % 2 else "dlrm",
            task="binary" if binary else "regression",
            train={"learning_rate": (0.001, 0.005, 0.02)[k % 3]},
            test={"auc": 0.7 + k / 1000, "log_loss": 0.6 - k / 1000} if binary
            else {"rmse": 1.0 - k / 1000, "mae": 0.8 - k / 1000},
            losses=[1.2, 1.0 - k / 1000, 0.9 - k / 1000],
            health="did not learn" if k == 7 else "learned",
        )  # fmt: skip
    store = RunStore(root)
    store.annotate("r042", name="The answer", add_tags=["paper", "sweep-lr"])
    store.annotate("r043", name="Near the answer", add_tags=["sweep-lr"])
    return store


@pytest.fixture(scope="module")
def frame(store):
    return rb.catalogue(store)


def test_catalogue_lists_every_run_with_its_label_and_link(frame):
    assert len(frame) == 130 and frame["run_id"].iloc[0] == "r129"  # newest first
    row = frame.set_index("run_id").loc["r042"]
    assert row["label"] == "The answer" and row["link"] == "run?id=r042"
    assert row["tags"] == "paper, sweep-lr" and row["model_title"] == "DLRM"
    assert frame.set_index("run_id").loc["r001", "label"] == "r001"  # unnamed: its id


def test_pages_of_at_most_per_page_runs(frame):
    first = rb.browse(frame, rb.BrowseQuery())
    assert first.pages == 2 and len(first.rows) == 100 and first.matched == 130
    second = rb.browse(frame, rb.BrowseQuery(page=2))
    assert len(second.rows) == 30 and second.rows["run_id"].iloc[-1] == "r000"
    assert set(first.rows["run_id"]).isdisjoint(second.rows["run_id"])
    assert rb.browse(frame, rb.BrowseQuery(page=9)).page == 2  # past the end: the last page
    small = rb.browse(frame, rb.BrowseQuery(per=25, page=6))
    assert small.pages == 6 and len(small.rows) == 5


def test_search_finds_names_tags_models_and_ids(frame):
    def ids(q):
        return set(rb.browse(frame, rb.BrowseQuery(q=q)).found["run_id"])

    assert ids("answer") == {"r042", "r043"}
    assert ids("the ANSWER") == {"r042", "r043"}  # every word, any case
    assert ids("tag:paper") == {"r042"} and ids("sweep") == {"r042", "r043"}
    assert ids("r12") == {f"r12{k}" for k in range(10)}
    assert len(ids("fm")) == 65 and len(ids("movielens")) == 130
    assert ids("nothing-like-this") == set()


def test_filters_and_task_specific_metric_columns(frame):
    mixed = rb.browse(frame, rb.BrowseQuery())
    assert mixed.task == "" and "test" in mixed.columns
    assert "test_rmse" not in mixed.columns and "test_auc" not in mixed.columns
    assert mixed.rows.set_index("run_id").loc["r125", "test"] == "AUC 0.8250 · log loss 0.4750"
    binary = rb.browse(frame, rb.BrowseQuery(task="binary"))
    assert binary.matched == 26 and binary.task == "binary"
    assert {"test_auc", "test_log_loss"} <= set(binary.columns) and "test_rmse" not in binary.columns
    assert binary.rows[["test_auc", "test_log_loss"]].notna().all().all()  # no empty columns
    regression = rb.browse(frame, rb.BrowseQuery(q="sweep", model="fm"))
    assert regression.task == "regression" and "test_rmse" in regression.columns  # one task left
    assert regression.found["run_id"].tolist() == ["r043"]
    learned = rb.browse(frame, rb.BrowseQuery(model="fm", health="learned")).found
    assert set(learned["model"]) == {"fm"} and len(learned) == 64 and "r007" not in set(learned["run_id"])
    assert set(rb.browse(frame, rb.BrowseQuery(health="did not learn")).found["run_id"]) == {"r007"}


def test_sorting_by_the_metric_of_the_task_in_view(frame):
    best = rb.browse(frame, rb.BrowseQuery(task="regression", sort="test_rmse", desc=False))
    rmse = best.found["test_rmse"].tolist()
    assert rmse == sorted(rmse) and best.found["run_id"].iloc[0] == "r129"
    assert "test_rmse" not in rb.sort_options("")  # metric sorts only for one task
    named = rb.browse(frame, rb.BrowseQuery(sort="name", desc=False)).found["label"].tolist()
    assert named[:2] == ["Near the answer", "r000"] and named[-1] == "The answer"


def test_the_url_holds_the_view_and_reads_back(frame, store):
    view = rb.BrowseQuery(q="answer", task="regression", sort="test_rmse", desc=False, page=2,
                          per=25, cmp=["r042", "r043"], hp="fm")  # fmt: skip
    params = view.params()
    assert params["q"] == "answer" and params["cmp"] == "r042,r043" and params["desc"] == "0"
    assert "dataset" not in params  # defaults are left out
    assert rb.read_query(PageQuery(params), frame, store) == view
    assert rb.BrowseQuery().params() == {}


def test_a_bad_url_is_one_message_and_a_deleted_run_leaves_the_comparison(frame, store):
    query = PageQuery({"task": "ranking", "sort": "nonsense", "page": "x",
                       "cmp": "r001,gone-run,../etc,r002"})  # fmt: skip
    view = rb.read_query(query, frame, store)
    assert view.task == "" and view.sort == "created" and view.page == 1
    assert view.cmp == ["r001", "r002"]
    message = query.message
    assert "Unknown task 'ranking'" in message and "does not exist" in message
    assert "'gone-run'" in message and "'../etc' is not a run id" in message


def test_curves_differences_and_settings_of_many_runs(frame, store):
    runs = rb.curves(store, frame, ["r042", "r043", "r044"])
    assert [label for label, _task, _h in runs] == ["The answer", "Near the answer", "r044"]
    assert runs[0][2][1]["loss"] == pytest.approx(1.0 - 0.042)
    table = rb.differences(store, frame, ["r042", "r043", "r046"]).set_index("setting")
    assert list(table.columns) == ["The answer", "Near the answer", "r046"]
    assert table.loc["model"].tolist() == ["dlrm", "fm", "dlrm"]
    assert table.loc["learning_rate"].tolist() == ["0.001", "0.005", "0.005"]
    assert "batch_size" not in table.index  # the same in all three: not a difference
    assert table.loc["test rmse"].tolist() == ["0.9580", "0.9570", "0.9540"]
    settings, varying, metric = rb.settings_frame(store, frame[frame["task"] == "regression"], "fm")
    assert metric == "test_rmse" and varying == ["learning_rate"] and len(settings) == 52
    _, _, mixed = rb.settings_frame(store, frame, "fm")
    assert mixed is None  # both tasks: no one metric to draw


def test_figures_of_runs(frame, store, plotly_array):
    runs = rb.curves(store, frame, ["r042", "r043", "r044"])
    fig = overlaid_curves_figure(runs)
    loss = [t for t in fig.data if t.xaxis == "x"]
    val = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in loss] == ["The answer", "Near the answer", "r044"] and len(val) == 3
    assert list(loss[1].y) == [1.2, 1.0 - 0.043, 0.9 - 0.043]
    assert list(val[2].y) == [0.6, (1.0 - 0.044) / 2, (0.9 - 0.044) / 2]
    assert loss[0].line.color == val[0].line.color != loss[1].line.color
    settings, varying, metric = rb.settings_frame(store, frame[frame["task"] == "regression"], "fm")
    par = hparams_figure(settings, varying, metric, "FM").data[0]
    assert [d.label for d in par.dimensions] == ["log10 learning_rate", "test rmse"]
    assert list(par.dimensions[-1].values) == settings["test_rmse"].tolist()
    refit = run_curves_figure(runs[0][2], [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}])
    assert refit.data[-1].name == "refit loss (all training rows)" and list(refit.data[-1].y) == [0.5, 0.4]
