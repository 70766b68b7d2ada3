"""Who trained a run, where, with which code: recorded in ``run.json`` when the run is saved.

A run is only as useful as what is known about how it came to be. An analyst who finds a surprising
map asks: who trained this, when, with which release, and — when it was trained from a working copy
— which commit? :func:`collect` answers at save time. It never fails a training: every part that
cannot be found (no ``.git``, an unreadable ref, an OS user the system cannot name) is left out.

The git commit is read from the ``.git`` folder of the checkout the package was imported from
(``HEAD``, its ref, ``packed-refs``, and a worktree's ``commondir``), without running git; only when
those files cannot be read (a ref format this code does not know) does it ask ``git rev-parse``,
with a two-second timeout.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from recsys_core import __version__

SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
GIT_TIMEOUT_S = 2.0
VIA = ("command line", "dashboard", "script")


def checkout_root() -> Path | None:
    """The folder holding the package when it runs from a git checkout (an editable install),
    else None (installed from a wheel: no commit to record)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / ".git").exists() else None


def _git_dir(root: Path) -> Path | None:
    """``root/.git``, or where a ``.git`` file (worktree, submodule) points."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    with contextlib.suppress(OSError):
        text = dot.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            path = Path(text.removeprefix("gitdir:").strip())
            return path if path.is_absolute() else (root / path).resolve()
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    """The commit ``ref`` (``refs/heads/main``) names: a loose ref file, else ``packed-refs``, in
    the git folder and then in a worktree's common folder."""
    folders = [git_dir]
    with contextlib.suppress(OSError):
        common = (git_dir / "commondir").read_text(encoding="utf-8").strip()
        folders.append((git_dir / common).resolve())
    for folder in folders:
        with contextlib.suppress(OSError):
            sha = (folder / ref).read_text(encoding="utf-8").strip()
            if SHA.match(sha):
                return sha
        with contextlib.suppress(OSError):
            for line in (folder / "packed-refs").read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref and SHA.match(parts[0]):
                    return parts[0]
    return None


def git_commit(root: Path | None = None) -> str | None:
    """The commit checked out at ``root`` (default: the package's checkout), or None."""
    root = root if root is not None else checkout_root()
    if root is None:
        return None
    git_dir = _git_dir(root)
    if git_dir is not None:
        with contextlib.suppress(OSError):
            head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
            if SHA.match(head):  # a detached HEAD
                return head
            if head.startswith("ref:"):
                sha = _read_ref(git_dir, head.removeprefix("ref:").strip())
                if sha is not None:
                    return sha
    try:  # a layout the files above do not cover: ask git, briefly
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and SHA.match(sha) else None


def os_user() -> str | None:
    """The operating-system user running this process, or None when the system cannot say."""
    try:
        return getpass.getuser() or None
    except Exception:  # no USER variable and no passwd entry (some containers)
        return None


def _versions() -> dict[str, str]:
    """The versions that decide what a training computes, as far as they are importable."""
    found = {"recsys-core": __version__}
    for module in ("jax", "keras"):
        with contextlib.suppress(Exception):
            found[module] = __import__(module).__version__
    return found


def collect(user: str | None = None, via: str = "command line") -> dict[str, Any]:
    """What to record about a run being saved now: ``user`` (the dashboard job's signed-in user;
    for the command line, the OS user), ``via`` (command line, dashboard or script), the host, the
    time, the versions and the git commit. Never raises."""
    try:
        record: dict[str, Any] = {
            "user": user if user is not None or via == "dashboard" else os_user(),
            "via": via if via in VIA else "script",
            "host": socket.gethostname(),
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
            "git_commit": git_commit(),
        }
    except Exception:  # provenance is a courtesy: a training is never lost for it
        return {"via": via, "versions": {"recsys-core": __version__}}
    return record


def describe(record: dict[str, Any] | None) -> str:
    """One line for a page or report: ``trained by ana@example.com through the dashboard on host
    with recsys-core 0.1.0 (commit 9694c18)``; '' for runs saved before provenance existed."""
    if not isinstance(record, dict):
        return ""
    user = record.get("user")
    via = record.get("via")
    parts = ["trained"]
    if isinstance(user, str) and user:
        parts.append(f"by {user}")
    elif via == "dashboard":
        parts.append("by a dashboard visitor (no sign-in)")
    if isinstance(via, str) and via:
        parts.append("from the command line" if via == "command line" else f"through the {via}")
    host = record.get("host")
    if isinstance(host, str) and host:
        parts.append(f"on {host}")
    versions = record.get("versions")
    if isinstance(versions, dict) and isinstance(versions.get("recsys-core"), str):
        parts.append(f"with recsys-core {versions['recsys-core']}")
    commit = record.get("git_commit")
    if isinstance(commit, str) and commit:
        parts.append(f"(commit {commit[:10]})")
    return " ".join(parts) if len(parts) > 1 else ""
