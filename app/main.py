"""Streamlit entrypoint: `streamlit run app/main.py`."""

import streamlit as st

import recsys_core  # noqa: F401  (selects the JAX backend before anything imports keras)

st.set_page_config(page_title="recsys-core · interaction explorer", page_icon="🔬", layout="wide")

pages = [
    st.Page("../pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("../pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("../pages/interactions.py", title="Interactions", icon=":material/grid_on:"),
    st.Page("../pages/trust.py", title="Trust", icon=":material/verified:"),
]
st.navigation(pages).run()
