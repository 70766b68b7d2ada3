"""Opening a dashboard page the way a user does, through Streamlit's AppTest: the app's entry
point first (it sets up the navigation), then the page, with its URL query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def open_page(
    name: str,
    *,
    secrets: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    timeout: float = 120,
    **query: str,
) -> AppTest:
    """Page ``name`` (``home`` or a file under ``pages/``) run once, with ``query`` in its URL,
    ``secrets`` and a signed-in ``user`` where given; fails on any exception the page shows."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if secrets:
        at.secrets.update(secrets)
    if user is not None:
        at.user = user
    at.query_params.update(query)
    at.run()
    if name != "home":
        at.switch_page(f"../pages/{name}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
