"""One embedding table per field, pooling multi-valued fields: torchrec's EmbeddingBagCollection role."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401

POOLINGS = ("sum", "mean")


@keras.saving.register_keras_serializable(package="recsys_core")
class EmbeddingBagCollection(keras.layers.Layer):
    """Look up and pool each field: e_f = pool_{k: ids[k] != 0} E_f[ids[k]] (pool = sum or mean).

    ``tables`` is a list of ``{"name": str, "vocab_size": int}``; ``call`` takes a dict mapping each
    name to integer ids of shape ``(batch,)`` (one value per row) or ``(batch, bag)`` (a bag of values
    per row, padded with 0, which is masked out) and returns the list of pooled ``(batch,
    embedding_dim)`` vectors in table order. Unlike torchrec, bags come as padded dense ids rather
    than a KeyedJaggedTensor, which keeps shapes static for ``jax.jit``.

    ``batch_l2`` (λ) adds, through ``add_loss``, the L2 penalty of the rows each call looks up:
    λ · mean over the batch of Σ_f pool_k ‖E_f[ids[k]]‖² (pool as above, padding masked out). Rows
    are penalised as often as they occur, as in SGD matrix factorisation, unlike
    ``embeddings_regularizer``, which penalises whole tables once per step. A call replaces the
    penalty of the layer's previous call, so a model that looks up the same inputs twice in one
    forward pass is penalised once.

    Reference: torchrec ``EmbeddingBagCollection``; DLRM (Naumov et al., 2019, arXiv:1906.00091).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        embedding_dim: int,
        pooling: str = "mean",
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        batch_l2: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if float(batch_l2) < 0:
            raise ValueError(f"batch_l2 must be >= 0, got {batch_l2!r}.")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}.")
        names = [t["name"] for t in tables]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"tables need distinct names and at least one table, got {names}.")
        for t in tables:
            if int(t["vocab_size"]) < 1:
                raise ValueError(
                    f"table {t['name']!r}: vocab_size must be >= 1, got {t['vocab_size']}."
                )
        self.tables = [{"name": t["name"], "vocab_size": int(t["vocab_size"])} for t in tables]
        self.embedding_dim = int(embedding_dim)
        self.pooling = pooling
        self.batch_l2 = float(batch_l2)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings = {
            t["name"]: keras.layers.Embedding(
                t["vocab_size"],
                self.embedding_dim,
                embeddings_initializer=self.embeddings_initializer,
                embeddings_regularizer=self.embeddings_regularizer,
                name=f"embedding_{t['name']}",
            )
            for t in self.tables
        }

    @property
    def names(self) -> list[str]:
        return [t["name"] for t in self.tables]

    def build(self, input_shape: Any = None) -> None:
        for emb in self.embeddings.values():
            if not emb.built:
                emb.build((None,))
        self.built = True

    def call(self, inputs: dict[str, Any]) -> list[Any]:
        missing = [n for n in self.names if n not in inputs]
        if missing:
            raise ValueError(f"EmbeddingBagCollection is missing inputs for fields {missing}.")
        out, penalty = [], []
        for name in self.names:
            ids = ops.cast(inputs[name], "int32")
            vectors = self.embeddings[name](ids)
            squares = ops.sum(ops.square(vectors), axis=-1) if self.batch_l2 else None
            if len(ids.shape) == 2:
                mask = ops.cast(ops.not_equal(ids, 0), vectors.dtype)
                vectors = ops.sum(vectors * mask[..., None], axis=1)
                if squares is not None:
                    squares = ops.sum(squares * mask, axis=1)
                if self.pooling == "mean":
                    count = ops.maximum(ops.sum(mask, axis=1), 1.0)
                    vectors = vectors / count[:, None]
                    if squares is not None:
                        squares = squares / count
            elif len(ids.shape) != 1:
                raise ValueError(
                    f"field {name!r}: ids must have rank 1 or 2, got shape {ids.shape}."
                )
            out.append(vectors)
            if squares is not None:
                penalty.append(ops.mean(squares))
        if penalty:
            self._clear_losses()  # one penalty per forward pass, however often the model looks up
            self.add_loss(self.batch_l2 * sum(penalty[1:], penalty[0]))
        return out

    def compute_output_spec(self, inputs: dict[str, Any]) -> list[Any]:
        batch = inputs[self.names[0]].shape[0]
        return [keras.KerasTensor((batch, self.embedding_dim)) for _ in self.names]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "tables": self.tables,
            "embedding_dim": self.embedding_dim,
            "pooling": self.pooling,
            "batch_l2": self.batch_l2,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
        }
