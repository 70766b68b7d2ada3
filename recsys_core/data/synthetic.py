"""Small generated tables shaped like MovieLens, for tests and demos that must not touch the network."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.data.movielens import COLUMNS, bucketize_age

OCCUPATIONS = ["student", "engineer", "artist", "writer", "doctor", "other"]
GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi", "Thriller"]


def synthetic_ratings(
    n_rows: int = 2000, n_users: int = 60, n_movies: int = 80, seed: int = 0
) -> pd.DataFrame:
    """A MovieLens-shaped table whose rating depends on user x genre and occupation x movie terms.

    Users and movies carry fixed attributes (as in MovieLens, user attributes are functions of
    ``user_id``); the rating is 3 + user bias + movie bias + a planted user-taste x genre term, clipped
    to 1..5 and rounded, so a model has real interactions to learn.
    """
    rng = np.random.default_rng(seed)
    user_age = rng.integers(15, 70, n_users)
    user_gender = rng.random(n_users) < 0.7
    user_occ = rng.choice(OCCUPATIONS, n_users)
    user_zip = np.array([f"{z:05d}" for z in rng.integers(0, 99999, n_users)])
    user_taste = rng.normal(size=(n_users, len(GENRES)))
    movie_genres = [
        sorted(rng.choice(GENRES, rng.integers(1, 4), replace=False).tolist())
        for _ in range(n_movies)
    ]
    movie_bias = rng.normal(scale=0.5, size=n_movies)
    u = rng.integers(0, n_users, n_rows)
    m = rng.integers(0, n_movies, n_rows)
    taste = np.array(
        [
            user_taste[ui, [GENRES.index(g) for g in movie_genres[mi]]].mean()
            for ui, mi in zip(u, m, strict=True)
        ]
    )
    rating = np.clip(
        np.round(3.2 + movie_bias[m] + 0.8 * taste + rng.normal(scale=0.3, size=n_rows)), 1, 5
    )
    age = pd.Series(user_age[u].astype("float32"))
    df = pd.DataFrame(
        {
            "user_id": (u + 1).astype(str),
            "movie_id": (m + 1).astype(str),
            "user_rating": rating.astype("float32"),
            "timestamp": (880_000_000 + rng.integers(0, 20_000_000, n_rows)).astype("int64"),
            "user_gender": user_gender[u],
            "raw_user_age": age,
            "bucketized_user_age": bucketize_age(age),
            "user_occupation_text": user_occ[u],
            "user_zip_code": user_zip[u],
            "movie_title": [f"Movie {mi + 1}" for mi in m],
            "movie_genres": [list(movie_genres[mi]) for mi in m],
        }
    )
    return df[COLUMNS]
