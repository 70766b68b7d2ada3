"""Feature-interaction layers as Keras 3 layers, one module per layer."""

from recsys_core.layers.afm_layer import AFMLayer
from recsys_core.layers.bi_interaction_pooling import BiInteractionPooling
from recsys_core.layers.bilinear_interaction import BilinearInteraction
from recsys_core.layers.cin import CIN
from recsys_core.layers.cross_net import CrossNet
from recsys_core.layers.cross_net_mix import CrossNetMix
from recsys_core.layers.dense_arch import DenseArch
from recsys_core.layers.dot_interaction import DotInteraction
from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection
from recsys_core.layers.feature_cross import FeatureCross
from recsys_core.layers.fefm_layer import FEFMLayer
from recsys_core.layers.fgcnn_layer import FGCNNLayer
from recsys_core.layers.field_wise_bi_interaction import FieldWiseBiInteraction
from recsys_core.layers.fm import FM
from recsys_core.layers.fm_interaction_arch import FMInteractionArch
from recsys_core.layers.fwfm_layer import FwFMLayer
from recsys_core.layers.inner_product_layer import InnerProductLayer
from recsys_core.layers.interacting_layer import InteractingLayer
from recsys_core.layers.linear_terms import LinearTerms
from recsys_core.layers.mlp import MLP
from recsys_core.layers.outter_product_layer import OutterProductLayer
from recsys_core.layers.over_arch import OverArch
from recsys_core.layers.senet_layer import SENETLayer

__all__ = [
    "AFMLayer",
    "BiInteractionPooling",
    "BilinearInteraction",
    "CIN",
    "CrossNet",
    "CrossNetMix",
    "DenseArch",
    "DotInteraction",
    "EmbeddingBagCollection",
    "FEFMLayer",
    "FGCNNLayer",
    "FM",
    "FMInteractionArch",
    "FeatureCross",
    "FieldWiseBiInteraction",
    "FwFMLayer",
    "InnerProductLayer",
    "InteractingLayer",
    "LinearTerms",
    "MLP",
    "OutterProductLayer",
    "OverArch",
    "SENETLayer",
]
