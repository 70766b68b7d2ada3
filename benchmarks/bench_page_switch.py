"""Time switching dashboard pages for saved runs in a real browser, click to main figure drawn.

Trains three small MovieLens 100K runs (one epoch each: AutoInt, DCN-V2, then DLRM, so the DLRM run
is the newest, the one Interactions and Compare open first) into a temporary run store, saving each
run's first maps beside it as the dashboard's training job does (``--no-precompute``: as the CLI
leaves them, computed on a page's first visit), or uses ``--runs-dir``; starts ``streamlit run app/main.py`` headless on a free loopback port with
``RECSYS_CORE_RUNS`` pointing at the store; opens it in headless Chromium (Debian's
``/usr/bin/chromium`` driven by Playwright, no browser download) and clicks the sidebar links
Interactions → Attention → Cross weights → Compare → Trust → Home, ``--rounds`` times.

A switch is timed in the browser, from the click to the moment the new page's title is shown and its
main content is drawn and live (not a stale element of the page before): the heatmap on
Interactions, Attention and Cross weights, all three heatmaps on Compare (run A, run B, the
difference; the default method is TII), the form's button on Trust and the runs table on Home.
Before the next click the page's script is let finish (the pair detail below the Interactions map
included). The first visit of each page in a fresh server process computes (and compiles) its
analyses, and loads its run's model unless the dashboard's warm-up (``recsys_core.dashboard``,
started by the first listing of the runs) has loaded it already: ``--linger`` waits on Home before
the first click, ``--no-warm-up`` turns the warm-up off. Later visits find everything in the
server's caches. Prints, per page, the first visit and the median of the later ones, the machine
and its load average.

    .venv/bin/python benchmarks/bench_page_switch.py [--rounds 5] [--runs-dir DIR] [--linger 10]
        [--no-warm-up] [--no-precompute]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
HEATMAP = ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .heatmaplayer path"
# (sidebar link, start of the page's title, what must be drawn, how many of it)
PAGES = (
    ("Interactions", "Field × field interactions", HEATMAP, 1),
    ("Attention", "Attention", HEATMAP, 1),
    ("Cross weights", "Cross weights", HEATMAP, 1),
    ("Compare", "Compare runs", HEATMAP, 3),
    ("Trust", "Can you trust the maps?", "[data-testid='stFormSubmitButton'] button", 1),
    ("Home", "What did your recommender learn", "[data-testid='stDataFrame']", 1),
)
# In the page: performance.now() once the title and `count` live matches of `sel` are there, else
# false. A match is live when it is not inside a stale element and, for a Plotly chart, when the
# chart holds a figure other than the one it held before the click (Streamlit may reuse the node).
READY = """([title, sel, count]) => {
  const live = (el) => !el.closest('[data-stale="true"]');
  const main = document.querySelector('[data-testid="stMain"]') || document;
  const heads = [...main.querySelectorAll('h1')].filter(live);
  if (!heads.some((h) => h.textContent.trim().startsWith(title))) return false;
  const plots = new Set();
  for (const el of main.querySelectorAll(sel)) {
    if (!live(el)) continue;
    const plot = el.closest('.js-plotly-plot');
    if (plot && plot.__benchOld !== undefined && plot.data === plot.__benchOld) continue;
    plots.add(plot || el);
  }
  return plots.size >= count ? performance.now() : false;
}"""
MARK = """() => {
  for (const p of document.querySelectorAll('.js-plotly-plot')) p.__benchOld = p.data;
}"""
CLICK_CLOCK = """() => {
  if (!window.__benchHooked) {
    document.addEventListener('click', () => { window.__benchClick = performance.now(); }, true);
    window.__benchHooked = true;
  }
}"""
IDLE = (
    "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def train_runs(root: Path, epochs: int, precompute: bool) -> list[str]:
    """AutoInt, DCN-V2 and DLRM on MovieLens 100K, saved in that order (DLRM newest); with
    ``precompute``, each run's first maps saved beside it as the dashboard's training job does."""
    from recsys_core import dashboard
    from recsys_core.runs.store import RunStore
    from recsys_core.training.engine import TrainConfig
    from recsys_core.training.pipeline import RunConfig, train_run

    os.environ["RECSYS_CORE_RUNS"] = str(root)
    store = RunStore(root)
    ids = []
    for model in ("autoint", "dcn_v2", "dlrm"):
        t0 = time.perf_counter()
        config = RunConfig(model=model, train=TrainConfig(epochs=epochs, patience=0))
        saved = store.save(train_run(config), run_id=f"{model}-movielens")
        ids.append(saved.run_id)
        if precompute:
            dashboard.precompute(saved.run_id)
        print(f"trained and saved {saved.run_id} in {time.perf_counter() - t0:.1f} s", flush=True)
        time.sleep(1.1)  # distinct folder mtimes: the store lists the newest first
    return ids


def start_server(port: int, runs: Path, log, warm_up: bool) -> subprocess.Popen:
    """``recsys-core serve`` (the dashboard and its worker, which computes the first maps the
    warm-up asks for) on 127.0.0.1:``port`` over the store ``runs``."""
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_CORE_QUEUE"}
    env["RECSYS_CORE_RUNS"] = str(runs)
    if not warm_up:
        env["RECSYS_CORE_WARM_UP"] = "0"
    cmd = [sys.executable, "-m", "recsys_core.cli", "serve", "--port", str(port), "--",
           "--server.headless=true", "--server.address=127.0.0.1",
           "--browser.gatherUsageStats=false"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard exited with code {proc.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the dashboard did not answer on /_stcore/health")


def switch(page, link: str, title: str, sel: str, count: int, timeout_ms: int) -> float:
    """Seconds from the click on sidebar link ``link`` to the page's main content drawn."""
    page.evaluate(MARK)
    page.evaluate(CLICK_CLOCK)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).first.click()
    ready = page.wait_for_function(READY, arg=[title, sel, count], timeout=timeout_ms)
    seconds = (ready.json_value() - page.evaluate("window.__benchClick")) / 1000
    if page.locator("[data-testid='stException']").count():
        raise RuntimeError(f"the {link} page shows an exception")
    return seconds


def settle(page, timeout_ms: int) -> None:
    """Let the page's script finish (and stay idle briefly) before the next click."""
    page.wait_for_timeout(200)
    page.wait_for_function(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="visits of every page")
    parser.add_argument("--runs-dir", type=Path, help="an existing run store (default: train one)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each trained run")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per switch")
    parser.add_argument("--log", type=Path, help="keep the dashboard's output in this file")
    parser.add_argument(
        "--linger", type=float, default=0.0, help="seconds on Home before the first click"
    )
    parser.add_argument(
        "--no-precompute",
        action="store_true",
        help="do not save the trained runs' first maps beside them (as runs trained by the CLI)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="RECSYS_CORE_WARM_UP=0: the server loads no model before a page asks for it",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium (make test does).")
    from playwright.sync_api import sync_playwright

    timeout_ms = int(args.timeout * 1000)
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        runs = args.runs_dir or Path(tmp) / "runs"
        if args.runs_dir is None:
            train_runs(runs, args.epochs, precompute=not args.no_precompute)
        log_path = args.log or Path(tmp) / "streamlit.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            proc = start_server(port, runs, log, warm_up=not args.no_warm_up)
            try:
                t0 = time.perf_counter()
                wait_healthy(url, proc)
                print(f"dashboard healthy after {time.perf_counter() - t0:.1f} s at {url}")
                times: dict[str, list[float]] = {p[0]: [] for p in PAGES}
                with sync_playwright() as p:
                    browser = p.chromium.launch(
                        executable_path=CHROMIUM,
                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                              "--disable-dev-shm-usage"],
                    )  # fmt: skip
                    page = browser.new_page(viewport={"width": 1400, "height": 1400})
                    t0 = time.perf_counter()
                    page.goto(url)
                    home = PAGES[-1]
                    page.wait_for_function(READY, arg=list(home[1:]), timeout=timeout_ms)
                    print(f"Home loaded in {time.perf_counter() - t0:.1f} s")
                    settle(page, timeout_ms)
                    page.wait_for_timeout(args.linger * 1000)
                    for r in range(args.rounds):
                        for link, title, sel, count in PAGES:
                            seconds = switch(page, link, title, sel, count, timeout_ms)
                            times[link].append(seconds)
                            settle(page, timeout_ms)
                        line = ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items())
                        print(f"round {r + 1}: {line} s (load {load()})", flush=True)
                    browser.close()
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if args.log is None and proc.returncode not in (0, -15):
            print(log_path.read_text(errors="replace")[-3000:])

    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores; load average {load()} (1/5/15 min); "
        f"Chromium headless, viewport 1400x1400; model warm-up "
        f"{'off' if args.no_warm_up else 'on'}, {args.linger:g} s on Home before the first click; "
        + (
            f"existing store {args.runs_dir}"
            if args.runs_dir
            else f"first maps {'not ' if args.no_precompute else ''}saved after training"
        )
    )
    print(f"page switch, click to main content drawn; median of {args.rounds - 1} later visits")
    print(f"{'page':<14}{'first visit s':>15}{'median s':>10}{'max s':>8}  later visits")
    over = []
    for link, values in times.items():
        later = values[1:] or values
        median = statistics.median(later)
        if median > 1.0:
            over.append(link)
        print(
            f"{link:<14}{values[0]:>15.2f}{median:>10.2f}{max(later):>8.2f}  "
            + ", ".join(f"{v:.2f}" for v in later)
        )
    print("every later switch under 1 s" if not over else f"over 1 s: {', '.join(over)}")
    slow_first = [link for link, values in times.items() if values[0] > 1.0]
    print(
        "every first visit under 1 s"
        if not slow_first
        else f"first visits over 1 s: {', '.join(slow_first)}"
    )


if __name__ == "__main__":
    main()
