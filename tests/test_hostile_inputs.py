"""A corpus of bad and hostile input, through the command line and the dashboard's upload helpers.

Every case must end in one clear message (exit code 2 on the command line, a ``RecsysCoreError``
from the helpers) and leave the run store byte for byte as it was. Text from a table (column names,
cell values) is data: the HTML report escapes it and the CSV export keeps formulas as text.
"""

import contextlib
import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core import dashboard
from recsys_core.cli import main
from recsys_core.errors import RecsysCoreError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
FORMULA = '=HYPERLINK("http:evil.example","click")'


def fingerprint(root: Path) -> dict[str, str]:
    """Every path under the store (folders too, hidden ones included) with its content hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(root.rglob("*"))
    }


def _good_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 8, n),
            "city": rng.choice(["a", "b", "c"], n),
            "price": rng.normal(10, 3, n).round(3),  # many distinct values: continuous
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _with(column: str, row: int, value) -> bytes:
    df = _good_frame()
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return _csv(df)


# (file name, content, message the user reads)
BAD_TABLES = [
    ("quote.csv", b'user_id,rating\n1,2\n"2,3\n', "not a well-formed CSV"),
    ("ragged.csv", b"user_id,rating\n1,2\n1,2,3,4\n", "not a well-formed CSV"),
    ("noise.parquet", bytes(range(256)) * 3, "cannot be read as Parquet"),
    ("half.parquet", _parquet(_good_frame())[:700], "cannot be read as Parquet"),
    ("csv-in-disguise.parquet", _csv(_good_frame()), "cannot be read as Parquet"),
    ("latin1.csv", "user_id,city,rating\n1,São Paulo,3\n".encode("latin-1"), "not UTF-8"),
    ("utf16.csv", _csv(_good_frame()).decode().encode("utf-16"), "UTF-16"),
    ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("header-only.csv", b"user_id,rating\n", "no rows"),
    ("table.xlsx", b"PK\x03\x04 not really a workbook", "unsupported file type"),
    (
        "nan-target.csv",
        _with("rating", 5, np.nan),
        "the target column 'rating' has 1 missing value",
    ),
    ("inf-target.csv", _with("rating", 7, "inf"), "the target column 'rating' holds inf in row 8"),
    ("inf-feature.csv", _with("price", 3, "-inf"), "continuous column 'price' holds -inf in row 4"),
    ("nan-feature.csv", _with("price", 9, np.nan), "continuous column 'price' has 1 missing value"),
]
# a formula where the user said the column is numeric (inferred, a text column is just text)
FORMULA_IN_NUMBERS = ("text-feature.csv", _with("price", 2, FORMULA),
                      "continuous column 'price' holds non-numeric values: row 3 holds '=HYPERLINK")  # fmt: skip
CASES = [(*case, False) for case in BAD_TABLES] + [(*FORMULA_IN_NUMBERS, True)]


@pytest.fixture()
def store(tmp_path, saved):
    """A store holding one good run, and its fingerprint."""
    root = tmp_path / "store"
    root.mkdir()
    shutil.copytree(saved.path, root / saved.run_id)
    return root


def _cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(("name", "content", "message", "numeric_price"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_tables_on_the_command_line(
    tmp_path, store, capsys, name, content, message, numeric_price
):
    before = fingerprint(store)
    path = tmp_path / name
    path.write_bytes(content)
    extra = ["--continuous", "price"] if numeric_price else []
    code, err = _cli(["train", "--data", str(path), "--target", "rating", "--epochs", "1", *extra,
                      "--runs-dir", str(store)], capsys)  # fmt: skip
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err
    assert fingerprint(store) == before


@pytest.mark.parametrize(("name", "content", "message", "numeric_price"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_tables_through_the_upload_helpers(
    monkeypatch, store, name, content, message, numeric_price
):
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(store))
    dashboard.job_manager.cache_clear()
    before = fingerprint(store)
    with pytest.raises(RecsysCoreError) as err:
        preview = dashboard.inspect_upload(content, name, "rating")
        roles = {**preview.schema.roles(), **({"price": "continuous"} if numeric_price else {})}
        roles.pop("rating", None)
        dashboard.prepare_upload(content, name, "rating", roles=roles)
    assert message in str(err.value), str(err.value)
    assert fingerprint(store) == before


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, store, capsys, monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MAX_UPLOAD_MB", "0.002")  # about 2 KB
    big = _csv(_good_frame(400))
    assert len(big) > 4096
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    before = fingerprint(store)
    code, err = _cli(["train", "--data", str(path), "--target", "rating",
                      "--runs-dir", str(store)], capsys)  # fmt: skip
    assert code == 2 and "over the 0 MB limit" in err and "RECSYS_CORE_MAX_UPLOAD_MB" in err
    with pytest.raises(RecsysCoreError, match="over the 0 MB limit"):
        dashboard.inspect_upload(big + b"\n", "big.csv")  # fresh bytes: not from the read cache
    assert fingerprint(store) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--param", "embedding_dim=-1"], "embedding_dim='-1' is out of range"),
        (["train", "--param", "embedding_dim=1e9"], "embedding_dim='1e9'"),
        (["train", "--param", "top_mlp=abc"], "top_mlp='abc'"),
        (["train", "--param", "dropout=2"], "dropout='2' is out of range"),
        (["train", "--param", "variant=<script>"], "variant"),
        (["train", "--param", "nope=1"], "no hyper-parameter 'nope'"),
        (["train", "--param", "no-equals-sign"], "--param expects NAME=VALUE"),
        (["train", "--epochs", "0"], "epochs must be >= 1"),
        (["train", "--epochs", "-5"], "epochs must be >= 1"),
        (["train", "--batch-size", "0"], "batch_size must be >= 1"),
        (["train", "--learning-rate", "-1"], "learning_rate must be in (0, 10)"),
        (["train", "--learning-rate", "nan"], "learning_rate must be in (0, 10), got nan"),
        (["train", "--learning-rate", "inf"], "learning_rate must be in (0, 10), got inf"),
        (["train", "--patience", "-1"], "patience must be >= 0"),
        (["train", "--trials", "0"], "--trials must be >= 1"),
        (["interactions", "../../etc"], "invalid run id '../../etc'"),
        (["interactions", "/etc/passwd"], "invalid run id"),
        (["interactions", ".."], "invalid run id"),
        (["interactions", ".tmp-half-written"], "invalid run id"),
        (["interactions", "no-such-run"], "no run 'no-such-run'"),
        (["export", "../../etc", "--format", "csv"], "invalid run id '../../etc'"),
        (["export", "..%2f..%2fetc", "--format", "json"], "invalid run id"),
    ],
)
def test_bad_arguments_exit_2_and_leave_the_store(
    tmp_path, store, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)  # export writes into the current folder: nothing may appear
    before, here = fingerprint(store), sorted(p.name for p in tmp_path.iterdir())
    code, err = _cli([*argv, "--runs-dir", str(store)], capsys)
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert fingerprint(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == here


# --- damaged and tampered saved runs ---


def _lambda_model_bytes(tmp_path) -> bytes:
    """A .keras archive whose model holds a Python lambda: loading it would run arbitrary code."""
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "evil.keras"
    model.save(path)
    return path.read_bytes()


def _zip_slip(original: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            out.writestr(item, src.read(item))
        out.writestr("../../../../pwned.txt", "escaped the archive")
    return buf.getvalue()


DAMAGE = {
    "truncated-model": ("model.keras", lambda b, t: b[: len(b) // 2], "not a Keras archive"),
    "empty-model": ("model.keras", lambda b, t: b"", "not a Keras archive"),
    "lambda-model": ("model.keras", lambda b, t: _lambda_model_bytes(t), "cannot be loaded"),
    "truncated-json": ("run.json", lambda b, t: b[: len(b) // 3], "run.json is corrupted"),
    "list-json": ("run.json", lambda b, t: b"[1, 2]", "does not hold a JSON object"),
    "latin1-json": ("run.json", lambda b, t: '{"model": "é"'.encode("latin-1"), "corrupted"),
    "no-json": ("run.json", None, "run.json is missing"),
    "bad-preprocessor": (
        "preprocessor.json",
        lambda b, t: b"{nope",
        "preprocessor.json is corrupted",
    ),
    "truncated-holdout": (
        "holdout.parquet",
        lambda b, t: b[:100],
        "holdout.parquet cannot be read",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_runs_give_a_clear_error(tmp_path, store, saved, capsys, case):
    name, damage, message = DAMAGE[case]
    target = store / case
    shutil.copytree(saved.path, target)
    if damage is None:
        (target / name).unlink()
    else:
        (target / name).write_bytes(damage((target / name).read_bytes(), tmp_path))
    before = fingerprint(store)
    code, err = _cli(["interactions", case, "--runs-dir", str(store)], capsys)
    assert code == 2 and message in err and case in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    if case == "lambda-model":  # Keras' safe mode refused to deserialise the lambda
        assert "Lambda" in err or "safe_mode" in err
    code, _ = _cli(["runs", "--runs-dir", str(store), "--json"], capsys)
    assert code == 0  # the listing still works, the good run is still there
    assert fingerprint(store) == before


def test_an_archive_member_cannot_escape(tmp_path, store, saved):
    from recsys_core.runs import RunStore

    target = store / "zip-slip"
    shutil.copytree(saved.path, target)
    (target / "model.keras").write_bytes(_zip_slip((target / "model.keras").read_bytes()))
    with contextlib.suppress(RecsysCoreError):
        RunStore(store).open("zip-slip").model  # noqa: B018 - loading is the test
    assert not any(p.name == "pwned.txt" for p in tmp_path.parent.rglob("pwned.txt"))
    assert not (ROOT / "pwned.txt").exists()


def test_no_pickle_anywhere_in_the_package():
    """Saved runs are JSON, Parquet and Keras archives loaded in safe mode: no pickle, joblib,
    marshal or ``allow_pickle`` that a tampered file could use to run code."""
    banned = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|joblib|dill|cloudpickle|marshal|shelve)\b"
        r"|allow_pickle\s*=\s*True|read_pickle|safe_mode\s*=\s*False|torch\.load",
        re.M,
    )
    offenders = [
        f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
        for p in sorted((ROOT / "recsys_core").rglob("*.py"))
        for m in banned.finditer(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    store_py = (ROOT / "recsys_core" / "runs" / "store.py").read_text()
    assert "load_model(" in store_py and "safe_mode=True" in store_py


def test_pages_never_render_raw_html():
    offenders = [
        str(p.relative_to(ROOT))
        for p in [*sorted((ROOT / "pages").glob("*.py")), ROOT / "app" / "main.py"]
        if re.search(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.html", p.read_text())
    ]
    assert offenders == []


# --- hostile text in a table that trains fine ---


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A 1-epoch DLRM trained from the command line on a table whose column names and cells hold
    HTML and spreadsheet formulas."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(1)
    n = 240
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 15, n),
            SCRIPT: rng.choice(["<b>bold</b>", IMG, "plain"], n),
            IMG: rng.choice(["x", "y"], n),
            FORMULA: rng.choice(["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3"], n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    path = root / "<i onmouseover=alert(3)>evil.csv"  # the file name is shown too
    df.to_csv(path, index=False)
    argv = ["train", "--data", str(path), "--target", "rating", "--epochs", "1", "--json",
            "--runs-dir", str(root / "runs")]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return root, json.loads(out.getvalue())["run_id"]


def test_hostile_names_are_escaped_in_the_html_report(hostile_run, capsys):
    root, run_id = hostile_run
    report = root / "report.html"
    code, err = _cli(["export", run_id, "--format", "report", "--out", str(report),
                      "--runs-dir", str(root / "runs")], capsys)  # fmt: skip
    assert code == 0, err
    html = report.read_text(encoding="utf-8")
    for raw in ("<script>alert(1)", IMG, "<i onmouseover", "<b>bold</b>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    # the only script tags are plotly.js and the figures, none of them ours
    assert html.count("<script") == html.count("</script>")


def test_hostile_names_stay_text_in_csv_and_json(hostile_run, capsys):
    root, run_id = hostile_run
    code, _ = _cli(["interactions", run_id, "--runs-dir", str(root / "runs")], capsys)
    assert code == 0
    code, _ = _cli(["interactions", run_id, "--format", "csv", "--out", str(root / "m.csv"),
                    "--runs-dir", str(root / "runs")], capsys)  # fmt: skip
    header = pd.read_csv(root / "m.csv", index_col=0).columns.tolist()
    formula = next(h for h in header if "HYPERLINK" in h)
    assert formula.startswith("'=")  # a spreadsheet shows it, never evaluates it
    assert all(not h.startswith(("=", "+", "-", "@")) for h in header)
    assert IMG in header  # the name itself is kept
    _cli(["interactions", run_id, "--format", "json", "--out", str(root / "m.json"),
          "--runs-dir", str(root / "runs")], capsys)  # fmt: skip
    fields = json.loads((root / "m.json").read_text())["fields"]
    assert IMG in fields and any(f.startswith("=HYPERLINK") for f in fields)  # JSON is data


def test_hostile_upload_previews_as_text(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    df = _good_frame()
    df[SCRIPT] = [IMG, FORMULA, "=1+1"] * 20
    preview = dashboard.inspect_upload(_csv(df), f"{SCRIPT}.csv", "rating")
    assert "<script>alert(1)<_script>" in preview.frame.columns  # '/' cannot name a field
    roles = preview.schema.table.set_index("column")["role"]
    assert roles["<script>alert(1)<_script>"] == "categorical"
    assert list(tmp_path.iterdir()) == []  # reading an upload writes nothing


def test_hostile_run_opens_on_the_pages(hostile_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root, run_id = hostile_run
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(root / "runs"))
    for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix):
        cache.cache_clear()
    try:
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
        at.run()
        assert not at.exception and run_id in at.dataframe[0].value["run_id"].tolist()
        at.query_params["run"] = run_id
        at.switch_page("../pages/interactions.py").run()
        assert not at.exception, at.exception
        # markdown is never rendered as HTML, so names are shown as typed
        assert not [m for m in at.markdown if m.proto.allow_html]
    finally:
        dashboard.job_manager.cache_clear()
