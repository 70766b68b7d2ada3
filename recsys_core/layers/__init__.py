"""Feature-interaction layers as Keras 3 layers, one module per layer."""

from recsys_core.layers.dot_interaction import DotInteraction
from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection
from recsys_core.layers.mlp import MLP

# --- pairwise layers ---
# --- deep and cross layers ---

__all__ = [name for name in dir() if name[:1].isupper()]
