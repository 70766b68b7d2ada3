"""Who may change the dashboard's run store: pure functions of the mode, the settings and the user.

Settings (environment variables, read on every call, so a restart is not needed in tests):

``RECSYS_CORE_MODE``
    ``full`` (default) or ``viewer``. In viewer mode nobody trains, uploads a table or deletes a
    run: the dashboard only shows the runs that are already in the store.
``RECSYS_CORE_TRAINERS``
    Comma-separated e-mail addresses (case-insensitive; ``@example.com`` admits a whole domain)
    of the people who may train, upload and delete. Empty: everyone who may sign in may.
``RECSYS_CORE_USER_HEADER``
    Behind an authenticating proxy (oauth2-proxy, IAP, …): the request header that carries the
    signed-in user's e-mail, e.g. ``X-Forwarded-Email``. Only set it when the proxy strips that
    header from the client's own requests, or anyone can claim to be anyone.

Identity comes from Streamlit's built-in OpenID Connect login when ``.streamlit/secrets.toml`` has
an ``[auth]`` section (``st.login()``, ``st.user.is_logged_in``, ``st.user.email``), else from the
proxy header when ``RECSYS_CORE_USER_HEADER`` is set, else there is none. Rules, in order:

1. viewer mode: nobody may change anything;
2. sign-in configured (OIDC or header) and nobody signed in: nothing until they sign in;
3. ``RECSYS_CORE_TRAINERS`` set: only those addresses (with no way to sign in configured, nobody:
   the list fails closed rather than open);
4. otherwise everyone may.

Uploading, deleting and annotating (a run's name, tags and note) follow training: a table is only
uploaded to train on it, and the people trusted to fill the store are the ones trusted to tidy it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from recsys_core.errors import RecsysCoreError

MODE_ENV = "RECSYS_CORE_MODE"
TRAINERS_ENV = "RECSYS_CORE_TRAINERS"
USER_HEADER_ENV = "RECSYS_CORE_USER_HEADER"
MODES = ("full", "viewer")
AUTH_KINDS = ("none", "oidc", "header")


class AccessDenied(RecsysCoreError):
    """An action the current mode or user is not allowed to perform."""


def mode(env: Mapping[str, str] | None = None) -> str:
    """``RECSYS_CORE_MODE`` lower-cased, ``full`` when unset; :func:`decide` treats any value other
    than ``full`` and ``viewer`` as ``viewer`` (a typo fails closed)."""
    env = os.environ if env is None else env
    return env.get(MODE_ENV, "").strip().lower() or "full"


def trainers(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The lower-cased entries of ``RECSYS_CORE_TRAINERS`` (addresses or ``@domain``)."""
    env = os.environ if env is None else env
    return frozenset(e.strip().lower() for e in env.get(TRAINERS_ENV, "").split(",") if e.strip())


def user_header(env: Mapping[str, str] | None = None) -> str | None:
    """The proxy header holding the user's e-mail (``RECSYS_CORE_USER_HEADER``), or None."""
    env = os.environ if env is None else env
    return env.get(USER_HEADER_ENV, "").strip() or None


def is_trainer(email: str | None, allowed: frozenset[str]) -> bool:
    if not email:
        return False
    email = email.strip().lower()
    domain = "@" + email.rpartition("@")[2] if "@" in email else None
    return email in allowed or (domain is not None and domain in allowed)


@dataclass(frozen=True)
class Access:
    """What one session may do, and why not when it may not."""

    mode: str
    auth: str  # "none", "oidc" or "header": where the identity comes from
    user: str | None  # the signed-in e-mail, None when nobody is signed in
    may_train: bool
    reason: str = ""  # why not, when may_train is False

    @property
    def may_upload(self) -> bool:
        return self.may_train

    @property
    def may_delete(self) -> bool:
        return self.may_train

    @property
    def may_annotate(self) -> bool:
        """Naming, tagging and noting a run: whoever may tidy the store (as for delete)."""
        return self.may_train

    @property
    def needs_sign_in(self) -> bool:
        return self.mode != "viewer" and self.auth != "none" and self.user is None

    def require(self, action: str = "train") -> None:
        """Raise :class:`AccessDenied` unless this session may ``action`` (train, upload, delete,
        annotate); viewer mode is re-read from the environment, so a stale or forged ``Access``
        cannot pass."""
        allowed = {"train": self.may_train, "upload": self.may_upload, "delete": self.may_delete,
                   "annotate": self.may_annotate}  # fmt: skip
        if action not in allowed:
            raise ValueError(f"unknown action {action!r}")
        if mode() != "full":
            raise AccessDenied(f"cannot {action}: {VIEWER_REASON}")
        if not allowed[action]:
            raise AccessDenied(f"cannot {action}: {self.reason}")


VIEWER_REASON = (
    "this dashboard is read-only (RECSYS_CORE_MODE=viewer): it shows the saved runs, and nobody "
    "can train, upload or delete here."
)


def decide(
    mode: str = "full",
    auth: str = "none",
    user: str | None = None,
    allowed: frozenset[str] = frozenset(),
) -> Access:
    """The rules above for a session in ``mode`` whose identity ``user`` came from ``auth``."""
    if auth not in AUTH_KINDS:
        raise RecsysCoreError(f"unknown sign-in kind {auth!r}; use one of {', '.join(AUTH_KINDS)}.")
    user = (user or "").strip() or None
    if auth == "none":
        user = None  # without sign-in there is no identity to trust
    if mode not in MODES:
        return Access("viewer", auth, user, False,
                      f"{MODE_ENV}={mode!r} is not a mode ({', '.join(MODES)}), so the dashboard "
                      "stays read-only until it is fixed.")  # fmt: skip
    if mode == "viewer":
        return Access(mode, auth, user, False, VIEWER_REASON)
    if auth != "none" and user is None:
        return Access(mode, auth, None, False, "sign in to train, upload or delete runs.")
    if allowed:
        if user is None:
            return Access(mode, auth, None, False,
                          f"{TRAINERS_ENV} lists who may train, but no sign-in is configured "
                          "to tell who you are (configure [auth] in secrets.toml or "
                          f"{USER_HEADER_ENV}).")  # fmt: skip
        if not is_trainer(user, allowed):
            return Access(mode, auth, user, False,
                          f"{user} is not among the people allowed to train ({TRAINERS_ENV}); "
                          "ask an admin to add you.")  # fmt: skip
    return Access(mode, auth, user, True)


def resolve(
    oidc_configured: bool = False,
    oidc_user: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Access:
    """:func:`decide` with the settings from ``env`` (default ``os.environ``): the identity is
    ``oidc_user`` when OIDC is configured, else the ``RECSYS_CORE_USER_HEADER`` header of
    ``headers`` (case-insensitive) when that is set, else nobody."""
    header = user_header(env)
    if oidc_configured:
        auth, user = "oidc", oidc_user
    elif header is not None:
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        auth, user = "header", lowered.get(header.lower())
    else:
        auth, user = "none", None
    return decide(mode(env), auth, user, trainers(env))


def server_side() -> Access:
    """The access of a caller with no session (a script or test calling the library): the mode
    and the trainers list from the environment, and no signed-in user."""
    return resolve(env=os.environ)


def from_streamlit() -> Access:
    """The current Streamlit session's access (call from a page): OIDC when ``[auth]`` is in the
    app's secrets, else the proxy header."""
    import streamlit as st

    configured = oidc_configured()
    user = None
    if configured and st.user.get("is_logged_in"):
        user = st.user.get("email")
    headers = {} if configured or user_header() is None else dict(st.context.headers)
    return resolve(configured, user, headers)


def oidc_configured() -> bool:
    """Whether the app's secrets configure Streamlit's OIDC login (an ``[auth]`` section)."""
    import streamlit as st

    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file means no login, never a crash
        return False
