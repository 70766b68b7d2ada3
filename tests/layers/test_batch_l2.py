import keras
import numpy as np
import pytest

from recsys_core.layers.batch_l2 import BatchL2


def test_batch_l2_passes_input_through_and_adds_mean_squared_norm():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    layer = BatchL2(0.5)
    with keras.StatelessScope(collect_losses=True):
        out = layer(x)
        layer(x)  # a second call replaces the first call's penalty
        losses = [float(v) for v in layer.losses]
    np.testing.assert_array_equal(np.asarray(out), x)
    assert losses == pytest.approx([0.5 * (x**2).sum(axis=1).mean()], rel=1e-6)
    with keras.StatelessScope(collect_losses=True):
        BatchL2(0.0)(x)
        assert BatchL2(0.0).losses == []
    assert BatchL2.from_config(layer.get_config()).l2 == 0.5
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        BatchL2(-0.1)
