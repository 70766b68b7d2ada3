"""A real browser on the run page and Home's run browser: open a run's page from its row on Home,
name and tag a run and find it by search, compare three runs' curves, follow a link to a deleted
run."""

import re

import pytest

from recsys_core.runs import RunStore
from tests.browser_support import chromium, dashboard, require_chromium
from tests.fake_runs import fake_run

pytestmark = pytest.mark.browser
require_chromium()

RUNS = {"fm-run-0": ("fm", 0.02), "fm-run-1": ("fm", 0.002), "dlrm-run-2": ("dlrm", 0.005),
        "doomed-run": ("dlrm", 0.01)}  # fmt: skip


@pytest.fixture(scope="module")
def store(saved, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-runs")
    for k, (run_id, (model, lr)) in enumerate(RUNS.items()):
        fake_run(saved.path, root, run_id, created=f"2026-01-0{k + 1}T00:00:00+0000", model=model,
                 train={"learning_rate": lr}, test={"rmse": 0.95 - k / 100, "mae": 0.75},
                 losses=[1.3 - k / 10, 1.1 - k / 10, 1.0 - k / 10])  # fmt: skip
    return RunStore(root)


@pytest.fixture(scope="module")
def server(store):
    with dashboard(store.root, store.root.parent / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def context():
    with chromium() as browser:
        yield browser.new_context(viewport={"width": 1400, "height": 1100})


@pytest.fixture()
def page(context):
    page = context.new_page()
    yield page
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def _home(page, server, query=""):
    page.goto(f"{server}/{query}")
    page.get_by_text(re.compile(r"\d+ of \d+ run\(s\) match")).wait_for(timeout=90_000)


def test_open_a_run_page_from_its_row_on_home(server, context, page):
    _home(page, server)
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    x, y = grid["x"] + 24, grid["y"] + 35 + 18  # the first row's "open" link (newest run first)
    page.mouse.move(x - 2, y - 1)  # the grid draws the link on hover; a click then opens it
    page.wait_for_timeout(300)
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    with context.expect_page(timeout=30_000) as opened:
        page.mouse.click(x, y)
    run = opened.value
    run.get_by_role("heading", name="doomed-run").wait_for(timeout=90_000)
    assert run.url.endswith("/run?id=doomed-run")  # the URL to share
    run.get_by_text("Train it again").wait_for()
    command = run.locator("code").last.inner_text()
    assert command.startswith("recsys-core train --model dlrm ") and "--learning-rate 0.01" in command
    run.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # its learning curves
    assert run.locator("[data-testid='stException']").count() == 0
    run.close()


def test_rename_and_tag_a_run_then_find_it_by_search(server, store, page):
    page.goto(f"{server}/run?id=fm-run-0")
    page.get_by_text("Name, tags and note").click()
    page.get_by_label("Name").fill("lr sweep best")
    page.get_by_label("Tags (comma-separated words)").fill("sweep-lr, paper")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="lr sweep best").wait_for(timeout=60_000)
    said = store.open("fm-run-0").annotations
    assert said.name == "lr sweep best" and said.tags == ("sweep-lr", "paper")
    _home(page, server)
    search = page.get_by_role("textbox", name="Search")
    search.fill("sweep best")
    search.press("Enter")
    page.get_by_text("1 of 4 run(s) match").wait_for(timeout=60_000)
    assert re.search(r"[?&]q=sweep(\+|%20)best", page.url)  # the search is in the URL
    _home(page, server, "?q=tag:paper")  # and a shared link finds it too
    page.get_by_text("1 of 4 run(s) match").wait_for(timeout=60_000)


def test_compare_three_runs_curves(server, store, page):
    _home(page, server)
    picker = page.locator("[data-testid='stMultiSelect'] input")
    for name in ("fm-run-0", "fm-run-1", "dlrm-run-2"):
        picker.click()
        picker.fill(name)
        page.get_by_role("option", name=re.compile(re.escape(name))).first.click()
        page.keyboard.press("Escape")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.data && p.data.length === 6)",
        timeout=90_000,
    )  # fmt: skip
    loss = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
                 .find(p => p.data && p.data.length === 6).data
                 .filter(t => (t.xaxis || 'x') === 'x').map(t => [t.name, Array.from(t.y)])"""
    )
    labels = [store.open(r).annotations.name or r for r in ("fm-run-0", "fm-run-1", "dlrm-run-2")]
    assert [name for name, _y in loss] == labels
    for k, (_name, y) in enumerate(loss):  # each run's own curve
        assert y == pytest.approx([1.3 - k / 10, 1.1 - k / 10, 1.0 - k / 10])
    assert re.search(r"cmp=fm-run-0(%2C|,)fm-run-1(%2C|,)dlrm-run-2", page.url)  # shareable
    page.get_by_text("Settings in which the selected runs differ").wait_for()


def test_a_link_to_a_deleted_run_says_so_and_offers_the_list(server, store, page):
    store.delete("doomed-run")
    page.goto(f"{server}/run?id=doomed-run")
    page.get_by_text("does not exist (it may have been deleted)").wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == 0  # never another run instead
    page.get_by_role("link", name="See the saved runs").click()
    page.get_by_text(re.compile(r"\d+ of 3 run\(s\) match")).wait_for(timeout=60_000)
