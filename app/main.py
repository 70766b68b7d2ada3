"""Streamlit entrypoint: `streamlit run app/main.py`."""

import streamlit as st

import recsys_core  # noqa: F401  (selects the JAX backend before anything imports keras)
from recsys_core import access
from recsys_core.compile_cache import enable_compilation_cache
from recsys_core.service.downloads import keep_generated_downloads
from recsys_core.service.keras_state import keep_keras_state
from recsys_core.viz.text import md_text

# Streamlit clears Keras' session after every script run, which breaks whatever another thread is
# computing with Keras at that moment (see recsys_core/service/keras_state.py); and it sweeps a
# generated download before a slow browser fetches it (recsys_core/service/downloads.py).
keep_keras_state()
keep_generated_downloads()
# Reuse compiled trainings across restarts ($RECSYS_CORE_JAX_CACHE=0 turns it off).
enable_compilation_cache()

st.set_page_config(page_title="recsys-core · interaction explorer", page_icon="🔬", layout="wide")

pages = [
    st.Page("../pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("../pages/run.py", title="Run", icon=":material/description:", url_path="run"),
    st.Page("../pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("../pages/interactions.py", title="Interactions", icon=":material/grid_on:"),
    st.Page("../pages/attention.py", title="Attention", icon=":material/visibility:"),
    st.Page("../pages/cross.py", title="Cross weights", icon=":material/hub:"),
    st.Page("../pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("../pages/trust.py", title="Trust", icon=":material/verified:"),
]
nav = st.navigation(pages)
allowed = access.from_streamlit()
with st.sidebar:  # sign-in only when it is configured (see recsys_core/access.py)
    if access.oidc_configured():
        if st.user.get("is_logged_in"):
            who = st.user.get("email") or st.user.get("name") or "you"
            st.caption(f"Signed in as {md_text(who)}")
            st.button("Sign out", on_click=st.logout, key="sign_out")
        else:
            st.button("Sign in", on_click=st.login, key="sign_in", type="primary")
    elif allowed.auth == "header" and allowed.user:
        st.caption(f"Signed in as {md_text(allowed.user)}")
    if allowed.mode != "full":
        st.caption("Read-only: the saved runs can be explored, not changed.")
    elif not allowed.may_train and allowed.user:
        st.caption("You can explore the runs; training is for the listed trainers.")
nav.run()
