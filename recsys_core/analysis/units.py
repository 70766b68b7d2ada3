"""The unit every number of an analysis is in, named once so figures, JSON and pages agree.

Model-agnostic views (TII, Archipelago, the pair detail) and the attributed cross terms measure the
model's raw score: the logit for a binary model, the predicted target itself for a regression
model — a rating on MovieLens, not a logit. Native views measure what the layer computes (an
embedding product, an attention weight, a kernel entry), which has no unit of the score.
"""

from __future__ import annotations

from typing import Any

RATING_TARGETS = ("user_rating", "rating")


def score_unit(spec: Any) -> str:
    """The unit of the model's raw score: ``"logit"`` for a binary task, ``"rating"`` for a
    MovieLens-style rating target, otherwise ``"<target> units"`` (a user's regression table)."""
    if getattr(spec, "task", "regression") == "binary":
        return "logit"
    target = str(getattr(spec, "target", "") or "")
    if not target or target.lower() in RATING_TARGETS:
        return "rating"
    return f"{target} units"
