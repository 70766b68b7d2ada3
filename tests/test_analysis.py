import numpy as np
import pytest

from recsys_core.analysis import dot_interaction_matrix, interaction_matrix
from recsys_core.errors import RecsysCoreError
from recsys_core.runs import RunStore


def test_dot_matrix_equals_numpy_from_the_embedding_tables(saved, runs_dir):
    run = RunStore(runs_dir).open(saved.run_id)
    model, pre, rows = run.model, run.preprocessor, run.holdout()
    x = pre.transform(rows)
    w = {v.path: np.asarray(v.value) for v in model.weights}
    vectors = []
    for name in pre.spec.categorical:
        vectors.append(w[f"dlrm/embedding/embedding_{name}/embeddings"][x[name]])
    bags = x["movie_genres"]
    table = w["dlrm/embedding/embedding_movie_genres/embeddings"]
    mask = (bags != 0)[..., None]
    vectors.append((table[bags] * mask).sum(1) / np.maximum(mask.sum(1), 1))
    h = np.maximum(
        x["continuous"] @ w["dlrm/bottom_mlp/dense_0/kernel"] + w["dlrm/bottom_mlp/dense_0/bias"], 0
    )
    vectors.append(h @ w["dlrm/bottom_mlp/dense_1/kernel"] + w["dlrm/bottom_mlp/dense_1/bias"])
    e = np.stack(vectors, axis=1)
    expected = np.abs(np.einsum("nid,njd->nij", e, e)).mean(0)

    m = interaction_matrix(run)
    assert m.fields == [*pre.spec.categorical, "movie_genres", "continuous"]
    assert np.isnan(np.diag(m.values)).all()
    off = ~np.eye(len(m.fields), dtype=bool)
    np.testing.assert_allclose(m.values[off], expected[off], rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(m.values, m.values.T, equal_nan=True)
    assert m.n_rows == len(rows) and m.kind == "data-averaged" and not m.signed
    assert m.groups["user_id"] == "user" and m.groups["movie_id"] == "movie"


def test_matrix_exports_carry_field_names(saved, runs_dir):
    m = interaction_matrix(RunStore(runs_dir).open(saved.run_id))
    lines = m.to_csv().splitlines()
    assert lines[0].split(",") == ["field", *m.fields]
    table, trailer = lines[1 : len(m.fields) + 1], lines[len(m.fields) + 1 :]
    assert [line.split(",")[0] for line in table] == m.fields
    assert all(line.startswith("#") for line in trailer)  # pd.read_csv(comment="#") skips them
    assert "# fields,the model's blocks," in trailer  # a native view keeps the model's fields
    d = m.to_dict()
    assert d["fields"] == m.fields and d["matrix"][0][0] is None and d["method"] == "native"


def test_unknown_method_and_empty_rows_are_errors(saved, runs_dir):
    run = RunStore(runs_dir).open(saved.run_id)
    with pytest.raises(RecsysCoreError, match="unknown interaction method"):
        interaction_matrix(run, "magic")
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        dot_interaction_matrix(run.model, run.preprocessor, run.holdout().iloc[:0])
