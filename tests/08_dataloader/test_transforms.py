"""Module 08: batch augmentations on NCHW float32 arrays."""

import numpy as np
import pytest

from tinytorch.core.dataloader import Compose, Normalize, RandomCrop, RandomHorizontalFlip
from tinytorch.core.tensor import Tensor


def _batch(n=4, c=3, h=6, w=6):
    return np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w)


def test_flip_with_p_one_mirrors_every_image():
    x = _batch()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])


def test_flip_with_p_zero_is_the_identity():
    x = _batch()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)


def test_flip_keeps_tensors_as_tensors():
    out = RandomHorizontalFlip(p=1.0)(Tensor(_batch()))
    assert isinstance(out, Tensor) and out.dtype == np.float32


def test_crop_gives_the_requested_size_and_dtype():
    out = RandomCrop(4, padding=2, rng=0)(_batch())
    assert out.shape == (4, 3, 4, 4) and out.dtype == np.float32


def test_crop_without_padding_at_full_size_is_the_identity():
    x = _batch()
    np.testing.assert_array_equal(RandomCrop(6, padding=0, rng=0)(x), x)


def test_crop_windows_come_from_the_zero_padded_image():
    x = _batch(n=8)
    out = RandomCrop(6, padding=1, rng=3)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(8):
        matches = [np.array_equal(out[i], padded[i, :, t:t + 6, l:l + 6]) for t in range(3) for l in range(3)]
        assert any(matches)


def test_normalize_standardises_each_channel():
    x = np.ones((2, 2, 3, 3), dtype=np.float32)
    x[:, 1] = 5.0
    out = Normalize(mean=[1.0, 3.0], std=[1.0, 2.0])(x)
    np.testing.assert_allclose(out[:, 0], 0.0)
    np.testing.assert_allclose(out[:, 1], 1.0)


def test_normalize_keeps_float32():
    assert Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])(_batch()).dtype == np.float32


def test_normalize_rejects_a_channel_mismatch():
    with pytest.raises(ValueError, match="C=3"):
        Normalize([0.5], [0.2])(_batch())


def test_compose_applies_in_order():
    x = _batch()
    out = Compose([RandomHorizontalFlip(p=1.0), Normalize([1, 1, 1], [2, 2, 2])])(x)
    np.testing.assert_allclose(out, (x[..., ::-1] - 1) / 2)
