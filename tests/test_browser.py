"""A real browser: start the dashboard, load the Interactions page in headless Chromium, see the heatmap."""

import re

import pytest

from tests.browser_support import HEATMAP, chromium, dashboard, require_chromium

pytestmark = pytest.mark.browser
require_chromium()


@pytest.fixture(scope="module")
def server(saved, runs_dir, tmp_path_factory):
    with dashboard(runs_dir, tmp_path_factory.mktemp("browser") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser_page():
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1300, "height": 1400}, accept_downloads=True)


def test_interactions_page_draws_the_heatmap_and_a_click_opens_the_pair(
    server, saved, browser_page, tmp_path
):
    page = browser_page
    page.goto(f"{server}/interactions?run={saved.run_id}")
    page.wait_for_selector(HEATMAP, timeout=90_000)
    ticks = page.eval_on_selector_all(
        ".js-plotly-plot .xtick text", "els => els.map(e => e.textContent)"
    )
    assert "continuous" in ticks and "movie_genres" in ticks
    # Click the transparent marker (the click layer, above the noise veil) on the centre of the
    # weakest cell (the page opens on the strongest pair): that pair opens.
    cells = page.locator(".js-plotly-plot").first
    k, x, y = cells.evaluate(
        """el => { const d = el.data.find(t => t.type === 'scatter'); let k = 0;
                   d.customdata.forEach((c, i) => { if (c[0] < d.customdata[k][0]) k = i; });
                   return [k, d.x[k], d.y[k]]; }"""
    )
    point = page.locator(".js-plotly-plot .scatterlayer path.point").nth(k)
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pair = re.compile(rf"({x} × {y}|{y} × {x}): strongest value combinations")
    page.get_by_text(pair).wait_for(timeout=60_000)
    # A download of the figure is a real PNG file.
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="PNG", exact=True).first.click()
    out = tmp_path / "map.png"
    info.value.save_as(out)
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "title, heading",
    [("Home", "What did your recommender learn"), ("Run", "Run"), ("Train", "Train a model"),
     ("Interactions", "Field × field interactions"), ("Attention", "Attention"),
     ("Compare", "Compare runs"), ("Trust", "Can you trust the maps?")],
)  # fmt: skip
def test_every_page_opens_from_the_sidebar_without_an_error(server, browser_page, title, heading):
    page = browser_page
    page.goto(server)
    page.wait_for_selector("[data-testid='stApp'] h1", timeout=60_000)
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid='stException']").count() == 0
