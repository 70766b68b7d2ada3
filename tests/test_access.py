"""Viewer mode and who may train: the rules of recsys_core.access, the library entry points that
refuse, and what the pages show for each kind of visitor."""


import pytest

from recsys_core import access, dashboard
from recsys_core.access import AccessDenied, decide, resolve
from recsys_core.runs import RunStore
from recsys_core.service.jobs import JobQueue
from recsys_core.training import RunConfig, TrainConfig
from recsys_core.viz.text import md_text
from tests.app_pages import open_page as _page

TEAM = frozenset({"ana@example.com", "@lab.org"})
AUTH_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-enough-test-cookie-secret",
        "client_id": "id",
        "client_secret": "secret",
        "server_metadata_url": "https://issuer.example/.well-known/openid-configuration",
    }
}


def _may(a):
    return (a.may_train, a.may_upload, a.may_delete)


# --- the rules, for every mode and kind of sign-in ---


@pytest.mark.parametrize("auth", ["none", "oidc", "header"])
@pytest.mark.parametrize("user", [None, "ana@example.com"])
def test_viewer_mode_allows_nothing_to_anyone(auth, user):
    a = decide("viewer", auth, user, TEAM)
    assert _may(a) == (False, False, False) and "read-only" in a.reason
    assert not a.needs_sign_in


@pytest.mark.parametrize("typo", ["viewr", "readonly", "FULLL"])
def test_an_unknown_mode_fails_closed(typo):
    a = decide(typo, "none", None, frozenset())
    assert a.mode == "viewer" and not a.may_train and typo in a.reason


def test_without_sign_in_everyone_may_and_no_identity_is_trusted():
    a = decide("full", "none", "mallory@example.com")
    assert _may(a) == (True, True, True) and a.user is None


def test_a_trainers_list_without_sign_in_fails_closed():
    a = decide("full", "none", None, TEAM)
    assert not a.may_train and "no sign-in is configured" in a.reason


@pytest.mark.parametrize("auth", ["oidc", "header"])
def test_with_sign_in_a_visitor_must_sign_in_first(auth):
    a = decide("full", auth, None)
    assert not a.may_train and a.needs_sign_in and "sign in" in a.reason


@pytest.mark.parametrize("auth", ["oidc", "header"])
@pytest.mark.parametrize(
    "user, ok",
    [
        ("ana@example.com", True),
        ("ANA@Example.com ", True),  # case and spaces do not matter
        ("bob@lab.org", True),  # a whole domain
        ("bob@example.com", False),
        ("ana@example.com.evil.io", False),
        ("lab.org", False),
    ],
)
def test_only_listed_trainers_may_train(auth, user, ok):
    a = decide("full", auth, user, TEAM)
    assert _may(a) == (ok, ok, ok)
    if not ok:
        assert "RECSYS_CORE_TRAINERS" in a.reason


@pytest.mark.parametrize("auth", ["oidc", "header"])
def test_with_sign_in_and_no_list_every_signed_in_user_may(auth):
    assert decide("full", auth, "anyone@example.com").may_train


def test_resolve_reads_the_environment_and_the_proxy_header():
    env = {
        "RECSYS_CORE_TRAINERS": "ana@example.com",
        "RECSYS_CORE_USER_HEADER": "X-Forwarded-Email",
    }
    a = resolve(headers={"x-forwarded-email": "ana@example.com"}, env=env)
    assert a.auth == "header" and a.user == "ana@example.com" and a.may_train
    b = resolve(headers={"X-Forwarded-Email": "eve@example.com"}, env=env)
    assert not b.may_train and "eve@example.com" in b.reason
    assert resolve(headers={}, env=env).needs_sign_in
    # OIDC, when configured, wins over any header the client sends
    c = resolve(True, None, headers={"X-Forwarded-Email": "ana@example.com"}, env=env)
    assert c.auth == "oidc" and not c.may_train
    # without a configured header, a header proves nothing
    d = resolve(headers={"X-Forwarded-Email": "ana@example.com"}, env={"RECSYS_CORE_MODE": "full"})
    assert d.auth == "none" and d.user is None and d.may_train
    assert not resolve(env={"RECSYS_CORE_MODE": "viewer"}).may_train


def test_require_rereads_viewer_mode(monkeypatch):
    granted = decide("full", "none", None)
    granted.require("train")
    monkeypatch.setenv("RECSYS_CORE_MODE", "viewer")
    with pytest.raises(AccessDenied, match="read-only"):
        granted.require("train")  # an Access made before the switch (or forged) does not pass
    with pytest.raises(ValueError):
        granted.require("launch")


# --- the library entry points the pages use ---


@pytest.fixture()
def store_at(monkeypatch):
    def use(path):
        monkeypatch.setenv("RECSYS_CORE_RUNS", str(path))
        dashboard.job_manager.cache_clear()
        dashboard._cached_run.cache_clear()

    yield use
    dashboard.job_manager.cache_clear()


def _csv() -> bytes:
    rows = "\n".join(f"u{i % 7},m{i % 5},{i % 5 + 1}" for i in range(40))
    return f"user_id,movie_id,rating\n{rows}\n".encode()


def test_viewer_mode_refuses_every_change_at_the_library_level(
    monkeypatch, store_at, tmp_path, saved, runs_dir
):
    import shutil

    shutil.copytree(saved.path, tmp_path / saved.run_id)
    store_at(tmp_path)
    monkeypatch.setenv("RECSYS_CORE_MODE", "viewer")
    forged = decide("full", "none", None)  # a crafted request cannot bring its own permission
    config = RunConfig(train=TrainConfig(epochs=1))
    for acc in (None, forged):
        with pytest.raises(AccessDenied, match="read-only"):
            dashboard.submit_training(config, access=acc)
        with pytest.raises(AccessDenied, match="read-only"):
            dashboard.inspect_upload(_csv(), "t.csv", access=acc)
        with pytest.raises(AccessDenied, match="read-only"):
            dashboard.prepare_upload(_csv(), "t.csv", "rating", access=acc)
        with pytest.raises(AccessDenied, match="read-only"):
            dashboard.delete_run(saved.run_id, access=acc)
        with pytest.raises(AccessDenied, match="read-only"):
            dashboard.submit_trust_check("dlrm", "ctr", access=acc)
    with pytest.raises(AccessDenied, match="read-only"):
        JobQueue(tmp_path).submit(config)  # nor can anything reach the queue directly
    assert dashboard.job_manager().jobs() == []
    assert RunStore(tmp_path).list()["run_id"].tolist() == [saved.run_id]


def test_a_user_not_on_the_list_is_refused_by_the_library(monkeypatch, store_at, tmp_path):
    store_at(tmp_path)
    monkeypatch.setenv("RECSYS_CORE_TRAINERS", "ana@example.com")
    eve = decide("full", "oidc", "eve@example.com", access.trainers())
    with pytest.raises(AccessDenied, match="eve@example.com is not among"):
        dashboard.submit_training(RunConfig(), access=eve)
    with pytest.raises(AccessDenied, match="no sign-in is configured"):
        dashboard.inspect_upload(_csv(), "t.csv")  # a caller with no session, list set
    ana = decide("full", "oidc", "ana@example.com", access.trainers())
    assert dashboard.inspect_upload(_csv(), "t.csv", access=ana).target == "rating"


# --- the pages ---



def test_viewer_mode_train_page_explains_instead_of_the_form(monkeypatch, store_at, tmp_path):
    store_at(tmp_path)
    monkeypatch.setenv("RECSYS_CORE_MODE", "viewer")
    at = _page("train")
    assert any("read-only" in i.value for i in at.info)
    assert not at.button and not at.file_uploader and not at.selectbox
    assert any("Read-only" in c.value for c in at.sidebar.caption)
    trust = _page("trust")
    assert any("read-only" in i.value for i in trust.info) and not trust.button


def test_home_hides_deletion_in_viewer_mode(monkeypatch, store_at, saved, runs_dir):
    store_at(runs_dir)
    at = _page("home")
    assert any(e.label == "Delete a run" for e in at.expander)
    monkeypatch.setenv("RECSYS_CORE_MODE", "viewer")
    at = _page("home")
    assert saved.run_id in at.dataframe[0].value["run_id"].tolist()
    assert not any(e.label == "Delete a run" for e in at.expander) and not at.button


def test_home_deletes_a_run_only_after_confirmation(store_at, saved, tmp_path):
    import shutil

    for name in ("keep-me", "drop-me"):
        shutil.copytree(saved.path, tmp_path / name)
    store_at(tmp_path)
    at = _page("home")
    at.selectbox(key="delete_run").set_value("drop-me").run()
    at.button(key="delete_ask").click().run()
    assert any("drop-me" in w.value and "cannot be undone" in w.value for w in at.warning)
    at.button(key="delete_no").click().run()  # cancel: nothing happens
    assert sorted(RunStore(tmp_path).list()["run_id"]) == ["drop-me", "keep-me"]
    at.button(key="delete_ask").click().run()
    at.button(key="delete_yes").click().run()
    assert not at.exception, at.exception
    assert RunStore(tmp_path).list()["run_id"].tolist() == ["keep-me"]
    assert at.dataframe[0].value["run_id"].tolist() == ["keep-me"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep-me"]


def test_oidc_sign_in_shows_in_the_sidebar_and_gates_training(monkeypatch, store_at, tmp_path):
    store_at(tmp_path)
    monkeypatch.setenv("RECSYS_CORE_TRAINERS", "ana@example.com")
    out = _page("train", secrets=AUTH_SECRETS, user={"is_logged_in": False})
    assert [b.label for b in out.sidebar.button] == ["Sign in"]
    assert any("sign in" in i.value for i in out.info) and not out.file_uploader
    eve = _page("train", secrets=AUTH_SECRETS, user={"is_logged_in": True, "email": "eve@example.com"})
    assert [b.label for b in eve.sidebar.button] == ["Sign out"]
    # the address is the user's text: shown literally, escaped in the Markdown source
    assert any(md_text("eve@example.com is not among") in i.value for i in eve.info)
    ana = _page("train", secrets=AUTH_SECRETS, user={"is_logged_in": True, "email": "ana@example.com"})
    assert any(md_text("ana@example.com") in c.value for c in ana.sidebar.caption)
    assert any(b.label == "Start training" for b in ana.button)


def test_no_sign_in_control_without_auth(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("train")  # AppTest's default user has an e-mail, but no [auth]: not trusted
    assert not at.sidebar.button
    assert any(b.label == "Start training" for b in at.button)
