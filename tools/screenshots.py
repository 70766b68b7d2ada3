"""Screenshot dashboard pages in headless Chromium (Debian's /usr/bin/chromium, no browser download).

Usage: python tools/screenshots.py http://localhost:8501 docs/screenshots [page[?query] ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


def shoot(base: str, out: Path, pages: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        # Streamlit scrolls inside its own container, so full_page cannot grow past the viewport:
        # a tall viewport captures the whole page.
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        for name in pages:
            page.goto(f"{base}/{name}")
            page.wait_for_selector("[data-testid='stApp'] h1", timeout=60_000)
            if name.startswith(("interactions", "attention", "compare")):
                page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=240_000)
            elif name.startswith("train"):
                page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
            page.wait_for_timeout(3000)
            stem = name.split("?")[0] or "home"
            page.screenshot(path=str(out / f"{stem}.png"), full_page=True)
            print(f"saved {out / f'{stem}.png'}")
        browser.close()


if __name__ == "__main__":
    shoot(sys.argv[1], Path(sys.argv[2]), sys.argv[3:] or ["", "train", "interactions"])
