"""The load test, small: the dashboard answers while its worker trains, a job over its memory limit
fails with that reason, tampered runs are listed as broken, and the server stays up."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_load_test_with_a_few_sessions():
    argv = [sys.executable, str(ROOT / "benchmarks" / "load_test.py"), "--sessions", "3",
            "--requests", "3", "--trainings", "2", "--max-trainings", "2", "--json"]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error_count"] == 0 and result["server_alive"]
    assert result["health"]["n"] >= 9 and result["pages"]["n"] >= 9
    assert 0 < result["health"]["p50_ms"] <= result["health"]["p99_ms"] < 5000
    trained = [j for j in result["jobs"] if j["kind"] == "train"]
    assert result["completed"] == 2 and all(j["state"] == "done" for j in trained)
    (oom,) = [j for j in result["jobs"] if j["kind"] == "oom"]
    assert oom["state"] == "failed" and "over the limit of 1,800 MB" in oom["error"], oom
    assert result["max_running"] == 2  # two jobs at once, the third waited its turn
    assert result["queue_positions_at_submit"][-1] >= 1
    broken = {r["run_id"] for r in result["broken_runs_listed"]}
    assert result["tampered"]["wrong_types"] in broken
