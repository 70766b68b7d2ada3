"""What every model shares: embedding tables from the feature spec and ways to read the fields."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.layers.batch_l2 import BatchL2
from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection
from recsys_core.layers.linear_terms import LinearTerms
from recsys_core.layers.mlp import MLP


class InteractionModel(keras.Model):
    """Base of the zoo: owns the sparse tables and names the interaction fields.

    Inputs are ``Preprocessor.transform`` dicts: int ids per sparse field and a float
    ``"continuous"`` block. Subclasses implement ``call``; they read the fields through

    - ``sparse_vectors(inputs)``: one ``(batch, D)`` vector per sparse field (bags pooled);
    - ``field_vectors(inputs)``: those plus, when there are continuous columns, the continuous block
      projected to ``D`` (a linear map; DLRM overrides it with its bottom MLP) — one vector per field
      of ``field_names``, for field-interaction layers (FM, dot, attention, ...);
    - ``flat_features(inputs)``: sparse vectors concatenated with the raw continuous columns, for
      bit-wise models (DCN, deep networks); ``flat_blocks()`` names its column blocks.

    The output is one unbounded score per row: the rating for regression, the logit for a binary
    task (the engine applies the sigmoid inside the loss). ``output_bias`` starts it at the training
    mean (or log-odds); ``output_bias_initializer()`` gives the initializer for the last layer.
    ``output_range`` (regression) is the training targets' range: predicted ratings are clipped to
    it, as rating-prediction libraries do; scores, and so every analysis, stay unclipped.

    Two L2 penalties hold the embeddings back. ``embedding_l2`` penalises every row of the tables
    once per step (a Keras regulariser). ``embedding_batch_l2`` (λ) penalises the rows each batch
    looks up, λ · mean over rows of Σ_f ‖e_f‖², so users and movies are held back as often as they
    are fitted (SGD matrix factorisation's regularisation; ``EmbeddingBagCollection.batch_l2``); the
    continuous block's field vector, when the model makes one, gets the same per-row penalty.
    """

    uses_continuous_projection = True
    # The model computes a term for each of the F(F-1)/2 field pairs (a pairwise product, weight or
    # attention score), so its memory grows with the square of the field count: build_model checks
    # the pair budget (recsys_core.limits.PAIRS) before constructing it (never __init__: a saved
    # run must still load after an operator lowers the budget).
    forms_pairs = False

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        embedding_l2: float = 0.0,
        pooling: str = "mean",
        output_bias: float = 0.0,
        embedding_batch_l2: float = 0.0,
        output_range: list[float] | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # regression: the training targets' [min, max]; predictions (not scores) are clipped to it
        self.output_range = (
            None if output_range is None else [float(output_range[0]), float(output_range[1])]
        )
        self.tables = [dict(t) for t in tables]
        self.continuous = [str(c) for c in continuous]
        self.embedding_dim = int(embedding_dim)
        self.embedding_l2 = float(embedding_l2)
        self.embedding_batch_l2 = float(embedding_batch_l2)
        self.pooling = pooling
        self.output_bias = float(output_bias)
        self.embedding = EmbeddingBagCollection(
            self.tables,
            self.embedding_dim,
            pooling=pooling,
            embeddings_regularizer=keras.regularizers.L2(embedding_l2) if embedding_l2 else None,
            batch_l2=self.embedding_batch_l2,
            name="embedding",
        )
        self.continuous_projection = (
            keras.layers.Dense(self.embedding_dim, name="continuous_projection")
            if self.continuous and self.uses_continuous_projection
            else None
        )
        # The continuous block's field vector is penalised per row like the looked-up rows.
        self.continuous_penalty = BatchL2(self.embedding_batch_l2, name="continuous_l2")

    def linear_terms(self, l2: float = 0.0) -> LinearTerms:
        """The first-order part: ``LinearTerms`` over this model's fields, named ``linear``."""
        return LinearTerms(self.tables, self.num_continuous, self.pooling, l2, name="linear")

    @property
    def num_continuous(self) -> int:
        return len(self.continuous)

    @property
    def field_names(self) -> list[str]:
        return [t["name"] for t in self.tables] + ([CONTINUOUS_FIELD] if self.continuous else [])

    def example_inputs(self, batch: int = 1) -> dict[str, Any]:
        """Zero inputs of the right shapes (bags of length 1), used to build the model."""
        x: dict[str, Any] = {t["name"]: np.zeros((batch,), "int32") for t in self.tables}
        if self.continuous:
            x[CONTINUOUS_FIELD] = np.zeros((batch, self.num_continuous), "float32")
        return x

    def build(self, input_shape: Any = None) -> None:
        # Weights depend only on the config, so a reloaded model can build without real inputs.
        if not self.built:
            self.call(self.example_inputs())
        self.built = True

    def output_bias_initializer(self) -> keras.initializers.Initializer:
        return keras.initializers.Constant(self.output_bias)

    def require_pairs(self, title: str) -> None:
        """Refuse a table with fewer than two fields: ``title``'s interaction has no pair."""
        if len(self.field_names) < 2:
            raise ValueError(f"{title} needs at least two fields to interact.")

    def output_bias_weight(self) -> Any:
        """A scalar ``bias`` weight starting at ``output_bias`` (the FM family's global bias)."""
        return self.add_weight(shape=(), initializer=self.output_bias_initializer(), name="bias")

    def scoring_mlp(self, hidden: list[int], dropout: float = 0.0, name: str = "dnn") -> MLP:
        """ReLU ``hidden`` layers then one linear output unit whose bias starts at ``output_bias``."""
        mlp = MLP([*hidden, 1], output_activation=None, dropout=dropout, name=name)
        mlp.dense_layers[-1].bias_initializer = self.output_bias_initializer()
        return mlp

    def sparse_vectors(self, inputs: dict[str, Any]) -> list[Any]:
        return self.embedding(inputs)

    def field_vectors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        vectors = self.sparse_vectors(inputs)
        if self.continuous_projection is not None:
            vectors.append(
                self.continuous_penalty(self.continuous_projection(inputs[CONTINUOUS_FIELD]))
            )
        return vectors

    def field_matrix(self, inputs: dict[str, Any], training: bool = False) -> Any:
        """``field_vectors`` stacked as ``(batch, F, D)``, the input DeepCTR-style layers take."""
        return ops.stack(self.field_vectors(inputs, training=training), axis=1)

    def flat_features(self, inputs: dict[str, Any]) -> Any:
        parts = self.sparse_vectors(inputs)
        if self.continuous:
            parts.append(ops.cast(inputs[CONTINUOUS_FIELD], parts[0].dtype))
        return ops.concatenate(parts, axis=-1)

    def flat_blocks(self) -> list[tuple[str, int]]:
        """``(name, width)`` of each column block of ``flat_features``: D per sparse field, 1 per column."""
        return [(t["name"], self.embedding_dim) for t in self.tables] + [
            (c, 1) for c in self.continuous
        ]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tables": self.tables,
            "continuous": self.continuous,
            "embedding_dim": self.embedding_dim,
            "embedding_l2": self.embedding_l2,
            "pooling": self.pooling,
            "output_bias": self.output_bias,
            "embedding_batch_l2": self.embedding_batch_l2,
            "output_range": self.output_range,
        }
