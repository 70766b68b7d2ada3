"""User text as text: file names, column names, cell values and run ids shown on the dashboard.

Most of Streamlit's text elements (``st.markdown``, ``st.caption``, ``st.error`` and the other
alerts, ``st.toast``, ``st.spinner``, widget and expander labels) render their string as Markdown.
A file named ``![p](https:host) [Sign in again](https:host).csv`` shown there makes every visitor's
browser fetch that host and draws a fake link. :func:`md_text` escapes such a string so it shows as
typed; :func:`plot_text` does the same for Plotly, whose titles, tick labels and hover text take a
subset of HTML (``<b>``, ``<br>``, ``<a href>``).
"""

from __future__ import annotations

import html
import re

# ASCII punctuation that means something to Streamlit's Markdown wherever it stands: emphasis,
# code, links and images, headings, tables, strikethrough, math ($), HTML (<, >, &), Streamlit's
# :color[...] directives, GFM autolinks ("https:", "a@b"). A backslash makes each a plain character.
MARKDOWN_SPECIAL = "\\`*_{}[]()#!|<>~$&:@"
_SPECIAL = re.compile("([" + re.escape(MARKDOWN_SPECIAL) + "])")
# "-", "+" and "." matter only where a line starts (a list item, a rule, "1." an ordered list) or in
# a "www." autolink: escaped there only, so "user-id" and "3.5" read the same in the Markdown source.
_LEADING = re.compile(r"^(\s*)([-+=]|\d+\.)")
_WWW = re.compile(r"(?i)(www)\.")
_BREAKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\r\n]+")  # line breaks, controls


def md_text(value: object, limit: int | None = 1000) -> str:
    """``value`` as Markdown that renders exactly as its text: every Markdown or HTML character
    backslash-escaped, line breaks and control characters as one space (a name is one line), cut
    to ``limit`` characters (None: no cut) so a long hostile name cannot flood a page.

    Safe wherever it is put in a line of Markdown, at its start too; not inside a code span
    (backticks show backslashes as they are)."""
    text = _BREAKS.sub(" ", str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _SPECIAL.sub(r"\\\1", text)
    text = _WWW.sub(r"\1\\.", text)
    return _LEADING.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def plot_text(value: object) -> str:
    """``value`` for a Plotly title, axis label, tick label or hover text: ``&``, ``<`` and ``>``
    as entities, which Plotly shows as the characters instead of reading tags."""
    return html.escape(str(value), quote=False)
