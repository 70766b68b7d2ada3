"""Load test: the dashboard serving a team while its workers train, with hostile work mixed in.

Starts ``recsys-core serve`` on loopback (the dashboard and one worker process with
``--max-trainings`` threads, a temporary run store whose queue lives inside it), with a run store
that already holds one good run and two tampered ones (a ``run.json`` with fields of the wrong type,
and a ``model.keras`` whose config asks for a 4e9-row embedding table, which aborts XLA when
loaded). Then, at the same time:

* N sessions (``--sessions``, default 10), each a thread that GETs ``/_stcore/health`` and a page
  shell (``/``, ``/train``, ``/interactions``, ``/compare``) at least ``--requests`` times with
  ``--think`` seconds between rounds, until the trainings are done;
* K trainings (``--trainings``, default 4; 1-epoch DLRM on a generated MovieLens-shaped table)
  queued through ``dashboard.submit_training`` — the entry point the Train page calls — plus one
  job built to run out of memory (``--no-oom`` leaves it out): an FM whose 300,000-row embedding
  table needs more than the workers' ``RECSYS_CORE_JOB_MEMORY_MB`` (``--job-memory-mb``, default
  1,800);
* with ``--browser`` (Debian's chromium and Playwright), one real browser session that opens Home
  and the tampered runs' Interactions pages over Streamlit's websocket.

It reports p50 / p99 / max latency of the health check and of page loads, errors, how many jobs ran
at once, the queue positions seen, how every job ended (the out-of-memory one must fail with the
memory limit named, the others complete), how the store lists the tampered runs, and that the
server and the worker stayed up.

Run: ``.venv/bin/python benchmarks/load_test.py [--sessions 10 --trainings 4 --browser --json]``;
exit code 1 when a request failed, a run did not complete, the out-of-memory job did not fail as it
should, or the server went down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("/", "/train", "/interactions", "/compare")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = b"", exc.code
    except OSError:
        body, status = b"", 0
    return time.perf_counter() - start, status, body


def start_server(port: int, runs: Path, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """``recsys-core serve`` (the dashboard and its worker) on 127.0.0.1:``port`` over ``runs``."""
    cmd = [sys.executable, "-m", "recsys_core.cli", "serve", "--port", str(port), "--",
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    env = {**env, "RECSYS_CORE_RUNS": str(runs)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def tampered_store(runs: Path) -> dict[str, str]:
    """A store with one good (tiny) run and two tampered copies of it; their ids by kind."""
    import json as json_
    import shutil
    import zipfile

    from recsys_core.data import synthetic_ratings
    from recsys_core.runs import RunStore
    from recsys_core.training import RunConfig, TrainConfig, train_run

    good = RunStore(runs).save(
        train_run(RunConfig(model="fm", train=TrainConfig(epochs=1, batch_size=256)),
                  table=synthetic_ratings(n_rows=2000, seed=1))  # fmt: skip
    )
    ids = {"good": good.run_id, "wrong_types": "tampered-run-json", "huge_table": "tampered-model"}
    bad = runs / ids["wrong_types"]
    shutil.copytree(good.path, bad)
    meta = json_.loads((bad / "run.json").read_text())
    meta.update(run_id=ids["wrong_types"], created=12345, test=[1, 2], history="none")
    (bad / "run.json").write_text(json_.dumps(meta))
    huge = runs / ids["huge_table"]
    shutil.copytree(good.path, huge)
    meta = json_.loads((huge / "run.json").read_text())
    meta.update(run_id=ids["huge_table"], created="2999-01-01T00:00:00")  # listed first
    (huge / "run.json").write_text(json_.dumps(meta))
    with zipfile.ZipFile(good.path / "model.keras") as src:
        files = {name: src.read(name) for name in src.namelist()}
    files["config.json"] = _absurd_input_dim(files["config.json"].decode()).encode()
    with zipfile.ZipFile(huge / "model.keras", "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return ids


def _absurd_input_dim(config: str) -> str:
    """The model config with its first embedding table asking for 4e9 rows."""
    import re

    return re.sub(r'"vocab_size": \d+', '"vocab_size": 4000000000', config, count=1)


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 90.0) -> float:
    """Seconds until ``/_stcore/health`` answers ``ok``; RuntimeError if the server dies or hangs."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        _, status, body = get(f"{base}/_stcore/health", timeout=2)
        if status == 200 and body.strip() == b"ok":
            return time.perf_counter() - start
        time.sleep(0.1)
    raise RuntimeError(f"no healthy answer from {base} within {timeout:.0f} s")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(1000 * percentile(values, 50), 2),
        "p99_ms": round(1000 * percentile(values, 99), 2),
        "max_ms": round(1000 * max(values), 2) if values else float("nan"),
        "mean_ms": round(1000 * statistics.fmean(values), 2) if values else float("nan"),
    }


def run_trainings(count: int, epochs: int, sessions: int, oom: bool, record: dict) -> None:
    """Queue ``count`` trainings (and the out-of-memory job) through the dashboard's entry point
    and follow them in the queue until every one has ended."""
    import dataclasses

    from recsys_core import dashboard
    from recsys_core.data import synthetic_ratings
    from recsys_core.training import RunConfig, TrainConfig

    table = synthetic_ratings(n_rows=4000, seed=0)
    queue = dashboard.job_manager()
    base = RunConfig(
        model="dlrm",
        hparams={"top_mlp": [32, 16]},
        train=TrainConfig(epochs=epochs, batch_size=256),
    )
    submitted, kinds = [], []
    for k in range(count):
        config = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=k))
        submitted += dashboard.submit_training(config, 1, f"session-{k % max(sessions, 1)}", table)
        kinds.append("train")
    if oom:  # ~232,000 users x 384 dimensions: 89M parameters (under the parameter budget), whose
        # weights, Adam moments and gradients need well over 1.8 GB
        big = synthetic_ratings(n_rows=300_000, n_users=300_000, seed=2)
        config = RunConfig(model="fm", hparams={"embedding_dim": 384},
                           train=TrainConfig(epochs=1, batch_size=4096), refit=False)  # fmt: skip
        submitted += dashboard.submit_training(config, 1, "session-oom", big)
        kinds.append("oom")
    record["positions"] = [queue.position(j.job_id) for j in submitted]
    peak = 0
    while True:
        current = [queue.get(j.job_id) for j in submitted]
        peak = max(peak, queue.running())
        if not any(j.active for j in current):
            break
        time.sleep(0.2)
    record["max_running"] = peak
    record["jobs"] = [
        {"job": j.job_id, "kind": kind, "state": j.state, "run_id": j.run_id, "error": j.error,
         "seconds": round(j.elapsed, 2), "health": (j.health or {}).get("status")}
        for j, kind in zip(current, kinds, strict=True)
    ]  # fmt: skip


def browser_visits(base: str, run_ids: dict[str, str]) -> list[dict]:
    """One headless-Chromium session over Streamlit's websocket: Home, then the Interactions page
    of each tampered run; what each showed (an exception box counts as a failure)."""
    from playwright.sync_api import sync_playwright

    visits = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])  # fmt: skip
        page = browser.new_page()
        targets = [("home", "/")] + [
            (kind, f"/interactions?run={rid}") for kind, rid in run_ids.items() if kind != "good"
        ]
        for name, path in targets:
            start = time.perf_counter()
            page.goto(base + path)
            page.wait_for_selector("[data-testid=stMain]", timeout=60_000)
            page.wait_for_timeout(1500)
            page.wait_for_function(
                "!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000
            )
            text = page.inner_text("[data-testid=stMain]")
            crashed = page.query_selector("[data-testid=stException]") is not None
            visits.append({"page": name, "seconds": round(time.perf_counter() - start, 2),
                           "exception": crashed, "text": " ".join(text.split())[:300]})  # fmt: skip
        browser.close()
    return visits


def load_test(
    sessions: int = 10,
    requests: int = 20,
    trainings: int = 4,
    epochs: int = 1,
    max_trainings: int = 2,
    port: int | None = None,
    think: float = 0.1,
    oom: bool = True,
    job_memory_mb: int = 1800,
    browser: bool = False,
) -> dict:
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_CORE_QUEUE"}  # the store's own
    env.update(RECSYS_CORE_MAX_TRAININGS=str(max_trainings),
               RECSYS_CORE_JOB_MEMORY_MB=str(job_memory_mb))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="recsys-load-") as tmp:
        runs, log = Path(tmp) / "runs", Path(tmp) / "server.log"
        os.environ.pop("RECSYS_CORE_QUEUE", None)
        os.environ["RECSYS_CORE_RUNS"] = str(runs)  # submit_training below queues into this store
        run_ids = tampered_store(runs)
        server = start_server(port, runs, log, env)
        visits: list[dict] = []
        try:
            startup = wait_healthy(base, server)
            for path in PAGES:  # warm the static files once
                get(base + path)
            record: dict = {}
            trainer = threading.Thread(
                target=run_trainings, args=(trainings, epochs, sessions, oom, record), daemon=True
            )
            health: list[float] = []
            pages: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            start = time.perf_counter()
            trainer.start()

            def session(i: int) -> None:
                done = 0
                while done < requests or (trainer.is_alive() and time.perf_counter() - start < 900):
                    t, status, body = get(f"{base}/_stcore/health")
                    ok = status == 200 and body.strip() == b"ok"
                    path = PAGES[(i + done) % len(PAGES)]
                    t2, status2, body2 = get(base + path)
                    ok2 = status2 == 200 and b"<html" in body2.lower()
                    with lock:
                        health.append(t)
                        pages.append(t2)
                        if not ok:
                            errors.append(f"health: HTTP {status}")
                        if not ok2:
                            errors.append(f"{path}: HTTP {status2}")
                    done += 1
                    time.sleep(think)

            with ThreadPoolExecutor(sessions + 1) as pool:
                looking = pool.submit(browser_visits, base, run_ids) if browser else None
                list(pool.map(session, range(sessions)))
                visits = looking.result() if looking is not None else []
            trainer.join(900)
            wall = time.perf_counter() - start
            alive = server.poll() is None and get(f"{base}/_stcore/health")[1] == 200
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        from recsys_core.runs import RunStore

        listed = RunStore(runs).list()
        stored = set(listed["run_id"]) if not listed.empty else set()
        broken = (
            listed[listed["error"].notna()][["run_id", "error"]].to_dict("records")
            if "error" in listed
            else []
        )
        jobs = record.get("jobs", [])
        completed = [j for j in jobs if j["kind"] == "train" and j["state"] == "done"
                     and j["run_id"] in stored]  # fmt: skip
        oom_job = next((j for j in jobs if j["kind"] == "oom"), None)
        return {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "sessions": sessions,
            "requests_per_session_min": requests,
            "think_seconds": think,
            "startup_seconds": round(startup, 2),
            "wall_seconds": round(wall, 2),
            "health": summary(health),
            "pages": summary(pages),
            "errors": errors[:20],
            "error_count": len(errors),
            "trainings": trainings,
            "max_trainings": max_trainings,
            "max_running": record.get("max_running", 0),
            "queue_positions_at_submit": record.get("positions", []),
            "completed": len(completed),
            "oom_failed_on_memory": None if oom_job is None else (
                oom_job["state"] == "failed" and "RECSYS_CORE_JOB_MEMORY_MB" in (oom_job["error"] or "")),
            "jobs": jobs,
            "tampered": run_ids,
            "broken_runs_listed": broken,
            "browser": visits,
            "server_alive": alive,
            "server_log_tail": "" if alive else log.read_text(errors="replace")[-2000:],
        }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20, help="at least this many per session")
    parser.add_argument("--trainings", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-trainings", type=int, default=2)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--think", type=float, default=0.1, help="seconds between a session's rounds"
    )
    parser.add_argument("--no-oom", dest="oom", action="store_false",
                        help="leave out the job built to exceed its memory limit")  # fmt: skip
    parser.add_argument("--job-memory-mb", type=int, default=1800,
                        help="the workers' RECSYS_CORE_JOB_MEMORY_MB")  # fmt: skip
    parser.add_argument("--browser", action="store_true",
                        help="also open Home and the tampered runs in headless Chromium")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = load_test(args.sessions, args.requests, args.trainings, args.epochs,
                       args.max_trainings, args.port, args.think, args.oom, args.job_memory_mb,
                       args.browser)  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        h, p = result["health"], result["pages"]
        print(f"machine: {result['machine']}")
        print(f"server healthy after {result['startup_seconds']} s; {result['sessions']} sessions, "
              f"{result['wall_seconds']} s of load")  # fmt: skip
        print(f"health  n={h['n']:5d}  p50 {h['p50_ms']:8.2f} ms  p99 {h['p99_ms']:8.2f} ms  max {h['max_ms']:8.2f} ms")  # fmt: skip
        print(f"pages   n={p['n']:5d}  p50 {p['p50_ms']:8.2f} ms  p99 {p['p99_ms']:8.2f} ms  max {p['max_ms']:8.2f} ms")  # fmt: skip
        print(f"errors: {result['error_count']}")
        print(f"trainings: {result['completed']}/{result['trainings']} completed and stored, "
              f"at most {result['max_running']} at once ({result['max_trainings']} worker threads), "
              f"queue positions at submit {result['queue_positions_at_submit']}")  # fmt: skip
        for job in result["jobs"]:
            print(f"  {job['job']} {job['kind']:5s} {job['state']:9s} {job['seconds']:6.2f} s  "
                  f"{job['run_id'] or job['error']}")  # fmt: skip
        print(f"out-of-memory job failed on its memory limit: {result['oom_failed_on_memory']}")
        for run in result["broken_runs_listed"]:
            print(f"  listed as broken: {run['run_id']}: {run['error']}")
        for visit in result["browser"]:
            print(f"  browser {visit['page']}: {visit['seconds']} s, exception: {visit['exception']}"
                  f" · {visit['text'][:120]}")  # fmt: skip
        print(f"server alive: {result['server_alive']}; load average {result['load_average']}")
    ok = (
        result["error_count"] == 0
        and result["completed"] == result["trainings"]
        and result["server_alive"]
        and result["oom_failed_on_memory"] in (None, True)
        and not any(v["exception"] for v in result["browser"])
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
