"""`recsys-core import MODEL.keras --data ROWS`: a model trained elsewhere becomes a run (issue #15).

References are independent of the library's estimator: predictions of the model itself
(``model.predict``) on rows whose columns are swapped by hand with pandas, in a NumPy loop.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import keras  # on JAX: conftest imports recsys_core first, which sets KERAS_BACKEND
import keras_rs
import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.runs.store import RunStore
from recsys_core.training.health import verdict_of_run

INPUTS = ("user_id", "movie_id", "user_gender", "raw_user_age")


def _rows(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, movies = rng.integers(0, 20, n), rng.integers(0, 30, n)
    gender, age = rng.integers(0, 2, n), rng.normal(0.0, 1.0, n)
    u, m = rng.normal(size=20), rng.normal(size=30)
    rating = 3.0 + 0.8 * u[users] * m[movies] + 0.3 * age + 0.2 * gender
    return pd.DataFrame(
        {
            "user_id": users,
            "movie_id": movies,
            "user_gender": gender,
            "raw_user_age": age,
            "user_rating": rating + rng.normal(0.0, 0.1, n),
        }
    )


def tutorial_dlrm(probability: bool = False) -> keras.Model:
    """The keras-io / keras-rs tutorial's DLRM as a functional model with named inputs: a bottom
    MLP on the dense feature, one embedding per categorical feature, keras-rs' DotInteraction on
    the stacked vectors, a top MLP on the interactions and the dense vector."""
    dim = 8
    ids = {
        name: keras.Input(shape=(), dtype="int32", name=name)
        for name, size in (("user_id", 20), ("movie_id", 30), ("user_gender", 2))
    }
    sizes = {"user_id": 20, "movie_id": 30, "user_gender": 2}
    age = keras.Input(shape=(1,), dtype="float32", name="raw_user_age")
    dense = keras.layers.Dense(16, activation="relu")(age)
    dense = keras.layers.Dense(dim, activation="relu")(dense)
    embedded = [
        keras.layers.Embedding(sizes[name], dim, name=f"{name}_embedding")(tensor)
        for name, tensor in ids.items()
    ]
    interactions = keras_rs.layers.DotInteraction()([dense, *embedded])
    top = keras.layers.Concatenate()([dense, interactions])
    top = keras.layers.Dense(16, activation="relu")(top)
    out = keras.layers.Dense(1, activation="sigmoid" if probability else None)(top)
    return keras.Model(inputs={**ids, "raw_user_age": age}, outputs=out)


def _x(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "user_id": rows["user_id"].to_numpy("int32"),
        "movie_id": rows["movie_id"].to_numpy("int32"),
        "user_gender": rows["user_gender"].to_numpy("int32"),
        "raw_user_age": rows["raw_user_age"].to_numpy("float32").reshape(-1, 1),
    }


def _trained(tmp_path: Path, probability: bool = False) -> tuple[Path, Path, keras.Model]:
    keras.utils.set_random_seed(1)
    rows = _rows()
    model = tutorial_dlrm(probability)
    y = rows["user_rating"].to_numpy("float32")
    if probability:
        model.compile(optimizer="adam", loss="binary_crossentropy")
        y = (y > np.median(y)).astype("float32")
    else:
        model.compile(optimizer="adam", loss="mse")
    model.fit(_x(rows), y, epochs=3, batch_size=32, verbose=0)
    path = tmp_path / ("dlrm_p.keras" if probability else "dlrm.keras")
    model.save(path)
    data = tmp_path / "rows.csv"
    rows.to_csv(data, index=False)
    return path, data, model


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _reference_tii(model: keras.Model, rows: pd.DataFrame, fields: list[str], probability: bool):
    """sqrt(1/4 mean Delta^2) by a NumPy loop over the model's own predictions, fields swapped by
    hand (each row's partner: the next row of a seeded shuffle, as the estimator pairs them)."""
    n = len(rows)
    order = np.random.default_rng(0).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    other = rows.iloc[partner].reset_index(drop=True)

    def z(frame: pd.DataFrame) -> np.ndarray:
        p = model.predict(_x(frame), verbose=0, batch_size=n).reshape(-1).astype(np.float64)
        if probability:
            p = np.clip(p, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))
        return p

    def swapped(cols: list[str]) -> pd.DataFrame:
        frame = rows.copy()
        for c in cols:
            frame[c] = other[c].to_numpy()
        return frame

    base = z(rows)
    single = {f: z(swapped([f])) for f in fields}
    ref = np.full((len(fields), len(fields)), np.nan)
    for a, fa in enumerate(fields):
        for b, fb in enumerate(fields):
            if a < b:
                delta = base - single[fa] - single[fb] + z(swapped([fa, fb]))
                ref[a, b] = ref[b, a] = np.sqrt(np.mean(delta**2) / 4.0)
    return ref


def test_dlrm_imported_tii_equals_numpy_loop(tmp_path):
    model_path, data, model = _trained(tmp_path)
    runs = tmp_path / "runs"
    code, out, err = _cli("import", str(model_path), "--data", str(data), "--runs-dir", str(runs))
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    run = RunStore(runs).open(run_id)
    assert run.meta["source"]["output"] == "rating" and set(run.meta["fields"]) == set(INPUTS)
    verdict = verdict_of_run(run.meta)
    assert verdict.summary == "imported: not trained here" and not verdict.warns
    assert RunStore(runs).list()["health"].tolist() == ["imported"]

    from recsys_core.analysis.views import interaction_matrix

    result = interaction_matrix(run, method="tii")
    rows = run.holdout()
    assert set(rows.columns) == set(INPUTS)  # the label column is not kept
    ref = _reference_tii(keras.saving.load_model(model_path), rows, result.fields, False)
    off = ~np.eye(len(ref), dtype=bool)
    np.testing.assert_allclose(result.values[off], ref[off], rtol=2e-4, atol=1e-6)
    assert np.nanmin(result.values) > 1e-5  # every pair interacts a little: the check has teeth
    # the trained model itself gives the same predictions as the archive
    np.testing.assert_allclose(
        model.predict(_x(rows), verbose=0).ravel(),
        keras.saving.load_model(model_path).predict(_x(rows), verbose=0).ravel(),
        rtol=1e-6,
    )

    # the same run through `recsys-core interactions --method tii`
    code, out, err = _cli(
        "interactions", run_id, "--method", "tii", "--runs-dir", str(runs), "--format", "json"
    )
    assert code == 0, err
    from recsys_core.analysis.matrix import InteractionMatrix

    shown = InteractionMatrix.from_dict(json.loads(out))
    order = [result.fields.index(f) for f in shown.fields]
    np.testing.assert_allclose(shown.values[off], ref[np.ix_(order, order)][off], rtol=2e-4)
    code, out, err = _cli(
        "interactions", run_id, "--method", "archipelago", "--runs-dir", str(runs)
    )
    assert code == 0, err


def test_grouped_fields(tmp_path):
    model_path, data, _ = _trained(tmp_path)
    runs = tmp_path / "runs"
    code, out, err = _cli(
        "import", str(model_path), "--data", str(data), "--runs-dir", str(runs),
        "--fields", "user=user_id+user_gender+raw_user_age", "--name", "tutorial DLRM",
    )  # fmt: skip
    assert code == 0, err
    run = RunStore(runs).open(out.strip().splitlines()[-1])
    assert run.meta["fields"] == ["user", "movie_id"]
    assert run.annotations.name == "tutorial DLRM"
    from recsys_core.analysis.views import interaction_matrix

    result = interaction_matrix(run, method="tii")
    assert result.fields == ["user", "movie_id"] and np.isfinite(result.values[0, 1])
    from recsys_core.service.run_page import summarize_run

    summary = summarize_run(run)
    assert summary.health == "imported: not trained here"
    assert summary.command == (
        "recsys-core import dlrm.keras --data rows.csv --output rating "
        "--fields user=user_id+user_gender+raw_user_age"
    )


def test_probability_output_is_analysed_as_clipped_logit(tmp_path):
    model_path, data, _ = _trained(tmp_path, probability=True)
    runs = tmp_path / "runs"
    code, out, err = _cli(
        "import", str(model_path), "--data", str(data), "--output", "probability",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert code == 0, err
    run = RunStore(runs).open(out.strip().splitlines()[-1])
    assert run.meta["task"] == "binary"
    from recsys_core.analysis.views import interaction_matrix

    result = interaction_matrix(run, method="tii")
    assert result.extra["space"] == "logit" and result.extra["unit"] == "logit"
    assert "probabilities, analysed as logits" in result.description
    assert "clipped" in result.description
    ref = _reference_tii(keras.saving.load_model(model_path), run.holdout(), result.fields, True)
    off = ~np.eye(len(ref), dtype=bool)
    np.testing.assert_allclose(result.values[off], ref[off], rtol=5e-4, atol=1e-5)


def _nothing_stored(runs: Path) -> bool:
    return not runs.exists() or not any(runs.iterdir())


def test_lambda_layer_is_refused(tmp_path):
    inp = keras.Input(shape=(1,), name="a")
    other = keras.Input(shape=(1,), name="b")
    doubled = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    model = keras.Model({"a": inp, "b": other}, keras.layers.Dense(1)(doubled * other))
    path = tmp_path / "lambda.keras"
    model.save(path)
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.0, 2.0]}).to_csv(
        tmp_path / "r.csv", index=False
    )
    runs = tmp_path / "runs"
    code, out, err = _cli("import", str(path), "--data", str(tmp_path / "r.csv"), "--runs-dir", str(runs))  # fmt: skip
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Lambda" in err and "refused" in err
    assert _nothing_stored(runs)


def test_class_path_outside_keras_is_refused_and_runs_no_code(tmp_path, monkeypatch):
    model_path, data, _ = _trained(tmp_path)
    # a package that leaves a mark when imported, on the path
    package = tmp_path / "evil_pkg"
    package.mkdir()
    mark = tmp_path / "imported.mark"
    (package / "__init__.py").write_text(
        f"open({str(mark)!r}, 'w').write('ran')\n"
        "import keras\n"
        "class Dense(keras.layers.Dense):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(model_path) as src, zipfile.ZipFile(hostile, "w") as dst:
        for item in src.infolist():
            data_bytes = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data_bytes)
                text = json.dumps(config).replace(
                    '"module": "keras.layers"', '"module": "evil_pkg"', 1
                )
                assert '"evil_pkg"' in text
                data_bytes = text.encode()
            dst.writestr(item, data_bytes)
    runs = tmp_path / "runs"
    code, out, err = _cli("import", str(hostile), "--data", str(data), "--runs-dir", str(runs))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "evil_pkg" in err and "outside Keras" in err
    assert not mark.exists() and "evil_pkg" not in sys.modules
    assert _nothing_stored(runs)

    # an imported run whose model.keras is swapped for the hostile one afterwards: refused on open
    code, out, err = _cli("import", str(model_path), "--data", str(data), "--runs-dir", str(runs))
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    (runs / run_id / "model.keras").write_bytes(hostile.read_bytes())
    code, out, err = _cli("interactions", run_id, "--method", "tii", "--runs-dir", str(runs))
    assert code == 2 and "outside Keras" in err and len(err.strip().splitlines()) == 1
    assert not mark.exists() and "evil_pkg" not in sys.modules


def test_rows_missing_an_input_is_one_line(tmp_path):
    model_path, data, _ = _trained(tmp_path)
    pd.read_csv(data).drop(columns=["movie_id"]).to_csv(tmp_path / "short.csv", index=False)
    runs = tmp_path / "runs"
    code, out, err = _cli(
        "import", str(model_path), "--data", str(tmp_path / "short.csv"), "--runs-dir", str(runs)
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "'movie_id'" in err and "lack" in err
    assert _nothing_stored(runs)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--fields", "user=nope"), "unknown input"),
        (("--output", "probability", "--fields", "x"), "NAME=INPUT"),
    ],
)
def test_bad_field_specs_are_one_line(tmp_path, args, words):
    model_path, data, _ = _trained(tmp_path)
    runs = tmp_path / "runs"
    code, _, err = _cli("import", str(model_path), "--data", str(data), "--runs-dir", str(runs), *args)  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err
    assert _nothing_stored(runs)


def test_every_page_opens_an_imported_run(tmp_path, monkeypatch):
    """The pages draw an imported run's TII map and say in one line what is not available."""
    from recsys_core import dashboard
    from tests.app_pages import open_page

    model_path, data, model = _trained(tmp_path)
    runs = tmp_path / "runs"
    code, out, err = _cli("import", str(model_path), "--data", str(data), "--runs-dir", str(runs))
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(runs))
    monkeypatch.delenv("RECSYS_CORE_QUEUE", raising=False)
    dashboard.job_manager.cache_clear()
    try:
        at = open_page("interactions", run=run_id, method="tii")
        heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
        expected = RunStore(runs).open(run_id)
        from recsys_core.analysis.views import interaction_matrix

        shown = interaction_matrix(expected, method="tii").ordered("group")
        assert heat["x"] == shown.fields
        assert any("pair detail is not available yet" in e.value for e in at.error)
        for page, query in (("run", {"id": run_id}), ("home", {}), ("compare", {"runs": run_id}),
                            ("attention", {"run": run_id}), ("cross", {"run": run_id})):  # fmt: skip
            open_page(page, **query)  # no exception on any page
    finally:
        dashboard.job_manager.cache_clear()
