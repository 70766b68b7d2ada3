"""Load test: the dashboard serving a team while several trainings run at once.

Starts ``streamlit run app/main.py`` on loopback (a free port, a temporary run store), then at the
same time

* N sessions (``--sessions``, default 10), each a thread that GETs ``/_stcore/health`` and a page
  (``/``, ``/train``, ``/interactions``, ``/compare``: the page shell a browser loads first) at least
  ``--requests`` times with ``--think`` seconds between rounds (default 0.1), and keeps going until
  the trainings are done;
* K trainings (``--trainings``, default 4; 1-epoch DLRM on a generated MovieLens-shaped table)
  queued through ``dashboard.submit_training`` — the entry point the Train page calls — in a pool of
  ``--max-trainings`` workers (default 2, as ``RECSYS_CORE_MAX_TRAININGS``), one owner per session.

and reports p50 / p99 / max latency of the health check and of page loads, errors, how many
trainings ran at once at most, the queue positions seen, and that every run completed and is in the
store. The trainings run in this process, not in the server's: the page shells are static, and
Streamlit runs a page's script only over a browser's websocket, so this measures the server's
responsiveness while the machine's cores train, which is what a team notices.

Run: ``.venv/bin/python benchmarks/load_test.py [--sessions 10 --trainings 4 --json]``; exit code 1
when a request failed or a run did not complete.
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


def start_server(port: int, runs: Path, log: Path) -> subprocess.Popen:
    """``streamlit run app/main.py`` on 127.0.0.1:``port`` with the run store ``runs``."""
    env = {**os.environ, "RECSYS_CORE_RUNS": str(runs)}
    streamlit = Path(sys.executable).with_name("streamlit")
    cmd = [str(streamlit) if streamlit.exists() else sys.executable, *([] if streamlit.exists() else ["-m", "streamlit"])]  # fmt: skip
    cmd += ["run", str(ROOT / "app" / "main.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


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


def run_trainings(count: int, epochs: int, sessions: int, record: dict) -> None:
    """Queue ``count`` trainings through the dashboard's entry point and wait for all of them."""
    import dataclasses

    from recsys_core import dashboard
    from recsys_core.data import synthetic_ratings
    from recsys_core.training import RunConfig, TrainConfig

    table = synthetic_ratings(n_rows=4000, seed=0)
    jobs = dashboard.job_manager()
    base = RunConfig(
        model="dlrm",
        hparams={"top_mlp": [32, 16]},
        train=TrainConfig(epochs=epochs, batch_size=256),
        dataset="table",
        data={"name": "load-test table"},
    )
    submitted = []
    for k in range(count):
        config = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=k))
        submitted += dashboard.submit_training(config, 1, f"session-{k % max(sessions, 1)}", table)
    record["positions"] = [jobs.position(j.job_id) for j in submitted]
    peak = 0
    while any(j.active for j in submitted):
        peak = max(peak, jobs.running())
        time.sleep(0.05)
    record["max_running"] = peak
    record["jobs"] = [
        {"job": j.job_id, "state": j.state, "run_id": j.run_id, "error": j.error,
         "seconds": round(j.elapsed, 2)}
        for j in submitted
    ]  # fmt: skip


def load_test(
    sessions: int = 10,
    requests: int = 20,
    trainings: int = 4,
    epochs: int = 1,
    max_trainings: int = 2,
    port: int | None = None,
    think: float = 0.1,
) -> dict:
    os.environ["RECSYS_CORE_MAX_TRAININGS"] = str(max_trainings)
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="recsys-load-") as tmp:
        runs, log = Path(tmp) / "runs", Path(tmp) / "server.log"
        os.environ["RECSYS_CORE_RUNS"] = str(runs)
        server = start_server(port, runs, log)
        try:
            startup = wait_healthy(base, server)
            for path in PAGES:  # warm the static files once
                get(base + path)
            record: dict = {}
            trainer = threading.Thread(
                target=run_trainings, args=(trainings, epochs, sessions, record), daemon=True
            )
            health: list[float] = []
            pages: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            start = time.perf_counter()
            trainer.start()

            def session(i: int) -> None:
                done = 0
                while done < requests or (trainer.is_alive() and time.perf_counter() - start < 600):
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

            with ThreadPoolExecutor(sessions) as pool:
                list(pool.map(session, range(sessions)))
            trainer.join(600)
            wall = time.perf_counter() - start
            alive = server.poll() is None
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        from recsys_core.runs import RunStore

        listed = RunStore(runs).list()
        stored = set(listed["run_id"]) if not listed.empty else set()
        jobs = record.get("jobs", [])
        completed = [j for j in jobs if j["state"] == "done" and j["run_id"] in stored]
        return {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
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
            "jobs": jobs,
            "server_alive": alive,
            "server_log_tail": "" if alive else log.read_text(errors="replace")[-2000:],
        }


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
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = load_test(args.sessions, args.requests, args.trainings, args.epochs,
                       args.max_trainings, args.port, args.think)  # fmt: skip
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
              f"at most {result['max_running']} at once (pool of {result['max_trainings']}), "
              f"queue positions at submit {result['queue_positions_at_submit']}")  # fmt: skip
        for job in result["jobs"]:
            print(f"  {job['job']} {job['state']:9s} {job['seconds']:6.2f} s  {job['run_id'] or job['error']}")  # fmt: skip
    ok = (
        result["error_count"] == 0
        and result["completed"] == result["trainings"]
        and result["server_alive"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
