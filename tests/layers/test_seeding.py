"""Seeded layers start every weight differently (a seeded Keras 3 initializer repeats itself)."""

import numpy as np

from recsys_core.layers import BilinearInteraction, CrossNet, CrossNetMix
from recsys_core.layers.seeding import weight_seed


def test_weight_seed():
    assert weight_seed(1024, 0) == 1024 and weight_seed(1024, 3) == 1027
    assert weight_seed(None, 5) is None


def test_cross_layers_and_experts_do_not_start_identical():
    net = CrossNet(layer_num=3, parameterization="matrix")
    net.build((None, 6))
    k = [np.asarray(w) for w in net.kernels]
    assert not np.allclose(k[0], k[1]) and not np.allclose(k[1], k[2])
    mix = CrossNetMix(low_rank=2, num_experts=2, layer_num=2)
    mix.build((None, 6))
    u0, u1 = (np.asarray(w) for w in mix.U_list)
    v0 = np.asarray(mix.V_list[0])
    assert not np.allclose(u0, u1) and not np.allclose(u0, v0)
    # two layers built with the same seed start the same: still reproducible
    again = CrossNet(layer_num=3, parameterization="matrix")
    again.build((None, 6))
    np.testing.assert_array_equal(np.asarray(again.kernels[1]), k[1])


def test_bilinear_pair_matrices_differ():
    layer = BilinearInteraction("interaction")
    layer.build([(None, 1, 4)] * 3)
    w = [np.asarray(x) for x in layer.W_list]
    assert len(w) == 3 and not np.allclose(w[0], w[1])
