"""Dependable when served: no single run folder, file name or link may break the dashboard.

* a ``run.json`` with a field of the wrong type is listed as broken, with its reason, and every
  other run stays usable (store, dashboard, Home, ``recsys-core runs``);
* user text (file names, column names, cell values, run ids) renders as text, never as Markdown,
  HTML or Plotly tags;
* query parameters out of range or malformed give one message, a link to a missing run says so;
* pages never show the run store's path;
* a ``model.keras`` whose config asks for a 4e9-row table is refused before Keras builds it.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from recsys_core import dashboard
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.cli import main
from recsys_core.errors import RunStoreError
from recsys_core.query import PageQuery
from recsys_core.runs import RunStore
from recsys_core.runs.validate import check_model_archive, config_parameters, run_json_problem
from recsys_core.training import RunConfig, TrainConfig, train_run
from recsys_core.viz.facets import facet_figure
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text, plot_text
from tests.app_pages import open_page

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_NAME = "![p](https:host) [Sign in again](https:host).csv"
HOSTILE_FIELD = "<a href='https://evil.example'>x</a>_**b**"
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def rendered(markdown: str) -> str:
    """What Streamlit's Markdown makes of ``markdown`` (CommonMark + GFM tables/strikethrough)."""
    return MD.render(markdown)


def shown_text(markdown: str) -> str:
    """The text a reader sees: the rendered HTML without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered(markdown))).strip()


# --- 1. the run.json schema ---

BAD_FIELDS = {
    "created-number": ("created", 1_700_000_000, "'created' is an integer"),
    "test-list": ("test", [0.9, 0.8], "'test' is a list"),
    "history-string": ("history", "many epochs", "'history' is a string"),
    "config-list": ("config", ["dlrm"], "'config' is a list"),
    "params-string": ("params", "1e5", "'params' is a string"),
    "fields-numbers": ("fields", [1, 2], "'fields' holds an integer"),
    "test-text": ("test", {"rmse": "good"}, "'test' holds a string"),
    "model-null": ("model", None, "'model' is null"),
}


def _copy_run(saved, root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(saved.path, target)
    meta = json.loads((target / "run.json").read_text())
    meta["run_id"] = name
    (target / "run.json").write_text(json.dumps(meta))
    return target


def _edit_meta(target: Path, **changes) -> None:
    meta = json.loads((target / "run.json").read_text())
    for key, value in changes.items():
        if value is KeyError:
            meta.pop(key, None)
        else:
            meta[key] = value
    (target / "run.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def broken_store(tmp_path_factory, saved):
    """The good DLRM run and one run per bad field of BAD_FIELDS, plus a bad config.data."""
    root = tmp_path_factory.mktemp("broken")
    _copy_run(saved, root, saved.run_id)
    for name, (field, value, _) in BAD_FIELDS.items():
        _edit_meta(_copy_run(saved, root, name), **{field: value})
    data = _copy_run(saved, root, "data-rows-text")
    config = json.loads((data / "run.json").read_text())["config"]
    config["data"] = {"name": "t.csv", "rows": "many"}
    _edit_meta(data, config=config)
    train = _copy_run(saved, root, "train-unknown-key")
    config = json.loads((train / "run.json").read_text())["config"]
    config["train"]["warp_speed"] = 9
    _edit_meta(train, config=config)
    return root


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_a_wrong_type_is_listed_as_broken_and_refused_on_open(broken_store, saved, name):
    _, _, reason = BAD_FIELDS[name]
    store = RunStore(broken_store)
    listed = store.list().set_index("run_id")
    error = listed.loc[name, "error"]
    assert reason in error and name in error and len(error.splitlines()) == 1, error
    assert pd.isna(listed.loc[saved.run_id, "error"])  # the good run is untouched
    with pytest.raises(RunStoreError, match=re.escape(reason)):
        store.open(name)
    assert store.open(saved.run_id).meta["model"] == "dlrm"


def test_nested_config_is_checked_too(broken_store):
    store = RunStore(broken_store)
    with pytest.raises(RunStoreError, match=r"config\.data field 'rows' is a string"):
        store.open("data-rows-text")
    with pytest.raises(RunStoreError, match="config cannot be read.*warp_speed"):
        store.open("train-unknown-key")


def test_runs_of_earlier_versions_still_open(saved, tmp_path):
    """Runs saved before refitting, health verdicts and compile timing existed lack those fields."""
    target = _copy_run(saved, tmp_path, "old-run")
    _edit_meta(target, refit_epochs=KeyError, health=KeyError, compile_seconds=KeyError,
               stopped_early=KeyError, data_source=KeyError)  # fmt: skip
    config = json.loads((target / "run.json").read_text())["config"]
    del config["refit"], config["data"]
    _edit_meta(target, config=config)
    store = RunStore(tmp_path)
    run = store.open("old-run")
    assert run.config.refit is False and run_json_problem(run.meta) is None
    assert "error" not in store.list() or store.list()["error"].isna().all()
    # the run as the current code saves it passes too
    assert run_json_problem(json.loads((saved.path / "run.json").read_text())) is None


def test_dashboard_and_cli_list_broken_runs_apart(broken_store, saved, monkeypatch, capsys):
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(broken_store))
    dashboard.job_manager.cache_clear()
    try:
        table = dashboard.runs_table()
        assert table["run_id"].tolist() == [saved.run_id]
        broken = dashboard.broken_runs()
        assert set(broken["run_id"]) == set(BAD_FIELDS) | {"data-rows-text", "train-unknown-key"}
        assert list(broken.columns) == ["run_id", "reason"]
    finally:
        dashboard.job_manager.cache_clear()
    assert main(["runs", "--runs-dir", str(broken_store)]) == 0
    out = capsys.readouterr().out
    assert saved.run_id in out and f"{len(BAD_FIELDS) + 2} run(s) cannot be opened" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("created-number"))
    assert "'created' is an integer" in line
    assert main(["runs", "--runs-dir", str(broken_store), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["run_id"] for r in records if r.get("error")} >= set(BAD_FIELDS)


# --- 2. user text is text ---

HOSTILE_TEXTS = [
    HOSTILE_NAME,
    HOSTILE_FIELD,
    "<img src=x onerror=alert(1)>",
    "1. **bold** _it_ ~~gone~~ `code` $x^2$ | a | b |",
    "# heading\n> quote\n- item",
    "https://evil.example/login www.evil.example a@evil.example",
    ":red[alarm] :material/home: \\*",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_md_text_shows_hostile_text_literally(text):
    out = rendered(md_text(text))
    assert "<a" not in out and "<img" not in out and "<h1" not in out and "<li" not in out
    assert "<strong" not in out and "<em" not in out and "<code" not in out
    assert shown_text(md_text(text)) == " ".join(text.splitlines())  # one line, as typed
    # anywhere in a line: after text, inside bold
    assert "<a" not in rendered(f"Saved **{md_text(text)}**: {md_text(text)}")


def test_md_text_cuts_floods():
    assert len(md_text("x" * 10_000)) == 1000 and md_text("x" * 10_000).endswith("…")


def test_plot_text_escapes_tags():
    assert plot_text("<a href='x'>y</a> & <b>") == "&lt;a href='x'&gt;y&lt;/a&gt; &amp; &lt;b&gt;"


def test_figures_show_hostile_field_names_as_text():
    fields = [HOSTILE_FIELD, "<b>bold</b>", "plain"]
    matrix = InteractionMatrix(
        values=np.arange(9.0).reshape(3, 3), fields=fields, method="tii",
        title="<i>TII</i> of <b>x</b>", description="d", kind="k",
        groups={HOSTILE_FIELD: "<u>user</u>", "<b>bold</b>": "<u>user</u>"},
    )  # fmt: skip
    for fig in (heatmap_figure(matrix, clickable=True), facet_figure([matrix, matrix], ["a", "b"])):
        spec = fig.to_plotly_json()
        heat = spec["data"][0]
        assert list(heat["x"]) == fields  # clicks still return the field itself
        layout = {k: v for k, v in spec["layout"].items() if k != "shapes"}  # shapes show no text
        for axis in (v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))):
            axis.pop("tickvals", None)  # the categories themselves; ticktext is what shows
        text = json.dumps(layout) + json.dumps([t.get("text") for t in spec["data"]])
        for raw in ("<a href", "<b>bold", "<i>TII", "<u>user"):
            assert raw not in text, raw
        assert "&lt;a href='https://evil.example'&gt;x&lt;/a&gt;" in json.dumps(spec["layout"])
        assert all("%{x}" not in t.get("hovertemplate", "") for t in spec["data"])


# --- AppTest: pages ---


@pytest.fixture()
def store_at(monkeypatch):
    def use(path):
        monkeypatch.setenv("RECSYS_CORE_RUNS", str(path))
        for cache in (dashboard.job_manager, dashboard._cached_matrix, dashboard._cached_run,
                      dashboard._cached_pair, dashboard._cached_menu, dashboard._cached_grid):  # fmt: skip
            cache.cache_clear()

    yield use
    dashboard.job_manager.cache_clear()


def _page(name: str, **query) -> AppTest:
    return open_page(name, timeout=180, **query)


def _markdowns(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    texts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "toast", "title",
                 "header", "subheader"):  # fmt: skip
        texts += [str(e.value) for e in getattr(at, kind)]
    texts += [e.label for e in at.expander]
    for kind in ("selectbox", "number_input", "text_input", "radio", "toggle", "checkbox"):
        texts += [w.label for w in getattr(at, kind)]
    return texts


def _assert_safe(at: AppTest, root: Path) -> None:
    """No link, image or raw HTML from user text, and no server path anywhere on the page."""
    for text in _markdowns(at):
        out = rendered(text)
        assert "<a " not in out and "<img" not in out, text
        assert str(root) not in text and str(root.resolve()) not in text, text


@pytest.fixture(scope="module")
def pages_store(tmp_path_factory, saved):
    """The good DLRM run, a tiny AutoInt and DCN-V2 run, and a run with a wrong type."""
    from recsys_core.data import synthetic_ratings

    root = tmp_path_factory.mktemp("pages")
    _copy_run(saved, root, saved.run_id)
    table = synthetic_ratings(n_rows=600, seed=0)
    store = RunStore(root)
    ids = {"dlrm": saved.run_id}
    for model, hparams in (
        ("autoint", {"att_layer_num": 1, "att_head_num": 2, "embedding_dim": 4}),
        ("dcn_v2", {"embedding_dim": 4, "num_cross_layers": 2, "dnn": [8]}),
    ):
        config = RunConfig(
            model=model, hparams=hparams, train=TrainConfig(epochs=1, batch_size=128)
        )
        ids[model] = store.save(train_run(config, table=table)).run_id
    _edit_meta(_copy_run(saved, root, "broken-created"), created=12)
    return root, ids


def test_home_lists_broken_runs_apart(store_at, pages_store):
    root, ids = pages_store
    store_at(root)
    at = _page("home")
    assert set(at.dataframe[0].value["run_id"]) == set(ids.values())
    label = next(e.label for e in at.expander if "cannot be opened" in e.label)
    assert label.startswith("1 run(s)")
    broken = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert broken["run_id"].tolist() == ["broken-created"]
    assert "'created' is an integer" in broken["reason"][0]
    _assert_safe(at, root)


RUN_LINKS = {
    "deleted": ("no-such-run-123", "does not exist (it may have been deleted)"),
    "escape": ("../etc", "is not a run id"),
    "broken": ("broken-created", "'created' is an integer"),
}


@pytest.mark.parametrize("page", ["interactions", "compare", "attention", "cross", "run"])
@pytest.mark.parametrize("case", sorted(RUN_LINKS))
def test_a_link_to_a_missing_or_bad_run_says_so(store_at, pages_store, page, case):
    root, _ = pages_store
    store_at(root)
    value, message = RUN_LINKS[case]
    at = _page(page, **{{"compare": "a", "run": "id"}.get(page, "run"): value})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in shown_text(errors[0]), errors
    assert not at.get("plotly_chart")  # never silently another run
    assert [link.value for link in at.page_link] == ["See the saved runs"]
    _assert_safe(at, root)


HOSTILE_QUERIES = {
    "interactions": [
        ({"method": "archipelago", "row": "99999"}, "Row 99999 is out of range (0 to "),
        ({"method": "archipelago", "row": "²"}, "Row '²' is not a number"),
        ({"method": "archipelago", "row": "-1"}, "Row -1 is out of range"),
        ({"method": "nope"}, "Unknown method 'nope'"),
        ({"method": "native", "view": "nope"}, "Unknown native view 'nope'"),
        ({"order": "<b>x</b>"}, "Unknown order '<b>x</b>'"),
    ],
    "attention": [
        ({"row": "99999"}, "Row 99999 is out of range"),
        ({"row": "abc"}, "Row 'abc' is not a number"),
        ({"sym": "maybe"}, "Sym 'maybe' is not 0 or 1"),
        ({"run": "DLRM"}, "is not a run of an attention model"),
    ],
    "cross": [
        ({"layer": "abc"}, "Layer 'abc' is not a number"),
        ({"layer": "999"}, "Layer 999 is out of range (1 to 2)"),
        ({"view": "nope"}, "Unknown view 'nope'"),
        ({"run": "DLRM"}, "is not a DCN / DCN-V2 run"),
    ],
    "compare": [
        ({"method": "nope"}, "Unknown method 'nope'"),
        ({"order": "sideways"}, "Unknown order 'sideways'"),
    ],
}
CASES = [(page, q, m) for page, cases in HOSTILE_QUERIES.items() for q, m in cases]


@pytest.mark.parametrize(("page", "query", "message"), CASES,
                         ids=[f"{p}-{'-'.join(q)}-{i}" for i, (p, q, _) in enumerate(CASES)])  # fmt: skip
def test_hostile_query_values_give_one_message(store_at, pages_store, page, query, message):
    root, ids = pages_store
    store_at(root)
    query = {k: (ids["dlrm"] if v == "DLRM" else v) for k, v in query.items()}
    if page == "interactions" and "run" not in query:
        query["run"] = ids["dlrm"]
    at = _page(page, **query)
    warnings = [shown_text(w.value) for w in at.warning]
    hits = [w for w in warnings if message in w]
    assert len(hits) == 1, warnings
    assert not at.error, [e.value for e in at.error]
    _assert_safe(at, root)


def test_head_and_layer_out_of_range_on_an_attention_view(store_at, pages_store):
    root, ids = pages_store
    store_at(root)
    at = _page("interactions", run=ids["autoint"], method="native", view="attention",
               layer="abc", head="999")  # fmt: skip
    shown = " ".join(shown_text(w.value) for w in at.warning)
    assert "Layer 'abc' is not a number" in shown and "Head 999 is out of range (0 to 1)" in shown
    assert at.number_input[0].value == 0 and at.number_input[1].value == 1


def test_train_page_says_so_for_an_unknown_model(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("train", model="<img src=x>")
    assert any("Unknown model" in shown_text(w.value) for w in at.warning)
    assert at.query_params["model"] in ("dlrm", ["dlrm"])
    _assert_safe(at, tmp_path)


def test_a_hostile_file_name_shows_as_text_on_the_train_page(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("train")
    at.radio(key="data_source").set_value("Upload a table").run()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": rng.integers(0, 9, 80), "rating": rng.integers(1, 6, 80)})
    at.file_uploader[0].set_value((HOSTILE_NAME, frame.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    caption = next(c.value for c in at.caption if "rows ×" in c.value)
    assert HOSTILE_NAME in shown_text(caption)
    _assert_safe(at, tmp_path)
    # an unreadable file of that name: the error names it, as text
    bad = ("![x](https:host)<b>.csv", b'a,b\n1,2,3,4\n"x\n', "text/csv")
    at.file_uploader[0].set_value(bad).run()
    assert at.error and "![x](https:host)<b>.csv" in shown_text(at.error[0].value)
    _assert_safe(at, tmp_path)


@pytest.fixture(scope="module")
def hostile_names_run(tmp_path_factory):
    """A 1-epoch DLRM trained on a table whose file name, column names and values are hostile."""
    root = tmp_path_factory.mktemp("hostile-names")
    rng = np.random.default_rng(1)
    n = 240
    df = pd.DataFrame({
        "user_id": rng.integers(0, 15, n),
        "[Sign in](https:host)": rng.choice(["![p](https:host)", "<b>x</b>", "plain"], n),
        "**city**": rng.choice(["a", "b"], n),
        "rating": rng.integers(1, 6, n).astype(float),
    })  # fmt: skip
    path = root / HOSTILE_NAME
    df.to_csv(path, index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", "--data", str(path), "--target", "rating", "--epochs", "1",
                     "--json", "--runs-dir", str(root / "runs")]) == 0  # fmt: skip
    return root / "runs", json.loads(out.getvalue())["run_id"]


@pytest.mark.parametrize("method", ["native", "tii"])
def test_hostile_names_render_as_text_on_interactions(store_at, hostile_names_run, method):
    root, run_id = hostile_names_run
    store_at(root)
    at = _page("interactions", run=run_id, method=method)
    _assert_safe(at, root)
    labels = [e.label for e in at.expander if e.label.startswith("Data")]
    assert labels and HOSTILE_NAME in shown_text(labels[0])
    a, b = at.selectbox(key="pair").value.split(" × ")
    assert any(f"How much {a} and {b} together" in shown_text(c.value) for c in at.caption)
    for spec in (json.loads(e.proto.spec) for e in at.get("plotly_chart")):
        text = json.dumps(spec["layout"]) + json.dumps([t.get("text") for t in spec["data"]])
        assert "<b>x</b>" not in text


# --- 4. configuration ---


def test_local_streamlit_config_hides_error_details():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"


def test_store_errors_do_not_name_the_store_path(tmp_path, saved):
    store = RunStore(tmp_path)
    for call in (lambda: store.open("nope"), lambda: store.delete("nope"),
                 lambda: store.open("../x")):  # fmt: skip
        with pytest.raises(RunStoreError) as err:
            call()
        assert str(tmp_path) not in str(err.value) and str(tmp_path.resolve()) not in str(err.value)


# --- 5. model.keras that would abort the server ---


def _tamper(archive: Path, change) -> None:
    """Rewrite ``config.json`` inside a .keras zip with ``change(config)``."""
    with zipfile.ZipFile(archive) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(archive, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)


def test_every_saved_run_passes_the_model_check(saved, pages_store):
    root, ids = pages_store
    assert check_model_archive(saved.path / "model.keras", saved.run_id) == saved.meta["params"]
    for run_id in ids.values():
        assert check_model_archive(root / run_id / "model.keras", run_id) > 0


def test_a_model_asking_for_billions_of_rows_is_refused_in_a_subprocess(saved, tmp_path):
    _copy_run(saved, tmp_path, saved.run_id)
    target = _copy_run(saved, tmp_path, "tampered")

    def huge(config):
        config["config"]["tables"][0]["vocab_size"] = 4_000_000_000

    _tamper(target / "model.keras", huge)
    script = textwrap.dedent(f"""
        from recsys_core.errors import RecsysCoreError
        from recsys_core.runs import RunStore
        store = RunStore({str(tmp_path)!r})
        try:
            store.open("tampered").model
        except RecsysCoreError as exc:
            print("refused:", exc)
        print("alive:", store.open({saved.run_id!r}).model.count_params())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -6 would be SIGABRT
    refused = next(line for line in done.stdout.splitlines() if line.startswith("refused:"))
    assert re.search(r"config asks for 32,000,\d{3},\d{3} parameters, over the limit", refused)
    assert "RECSYS_CORE_MAX_PARAMS" in refused and str(tmp_path) not in refused
    assert f"alive: {saved.meta['params']}" in done.stdout


def test_a_keras_embedding_over_the_budget_and_a_disagreeing_config_are_refused(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4)])
    path = tmp_path / "tiny.keras"
    model.save(path)
    assert check_model_archive(path, "tiny") == 40

    def rows(n):
        def change(config):
            layers = config["config"]["layers"]
            next(c for c in layers if c["class_name"] == "Embedding")["config"]["input_dim"] = n

        return change

    _tamper(path, rows(4_000_000_000))
    assert config_parameters(json.loads(zipfile.ZipFile(path).read("config.json"))) == 16e9
    with pytest.raises(RunStoreError, match="config asks for 16,000,000,000 parameters"):
        check_model_archive(path, "tiny")
    _tamper(path, rows(5_000))  # under the budget, but no saved weight has 5,000 rows
    with pytest.raises(RunStoreError, match="weights hold 40; the archive was altered"):
        check_model_archive(path, "tiny")
    with pytest.raises(RunStoreError, match="over the limit of 10"):
        check_model_archive(path, "tiny", budget=10)


def test_query_parser_in_isolation(tmp_path, saved):
    _copy_run(saved, tmp_path, "only")
    store = RunStore(tmp_path)
    q = PageQuery({"row": "²", "layer": "7", "flag": "x", "view": "v", "run": ["a", "only"]})
    assert q.integer("row", 0, 9, 0) == 0 and q.integer("layer", 1, 2, 1) == 2
    assert q.flag("flag") is False and q.choice("view", ["a"], "a") == "a"
    assert q.run("run", ["only"], store) == "only"  # a repeated parameter: the last one
    assert len(q.problems) == 4 and q.message.count(".") >= 4
    assert PageQuery({}).message is None


def test_a_widened_layer_is_refused_as_an_altered_archive(saved, tmp_path):
    """A width the weights do not have (an MLP of 4e9 units) is not an embedding table, but Keras
    would still allocate it: the config disagrees with the saved weights, so it is refused."""
    target = _copy_run(saved, tmp_path, "wide")

    def widen(config):
        config["config"]["top_mlp"] = [4_000_000_000]

    _tamper(target / "model.keras", widen)
    with pytest.raises(RunStoreError, match="sets 'top_mlp' to 4,000,000,000, a size no saved"):
        check_model_archive(target / "model.keras", "wide")
