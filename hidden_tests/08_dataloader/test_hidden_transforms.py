"""Module 08 (hidden): crop offsets and padding, per-image flips, dtype and input preservation."""

import numpy as np
import pytest

from tinytorch.core.dataloader import Compose, Normalize, RandomCrop, RandomHorizontalFlip
from tinytorch.core.tensor import Tensor


def _batch(n=4, c=3, h=5, w=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)


def _offsets(x, out, padding):
    """The (top, left) window of the padded image that each output equals."""
    h, w = out.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    found = []
    for i in range(len(x)):
        hits = [(t, l) for t in range(padded.shape[2] - h + 1) for l in range(padded.shape[3] - w + 1)
                if np.array_equal(out[i], padded[i, :, t:t + h, l:l + w])]
        assert hits, f"output {i} is not a window of the padded image {i}"
        found.append(hits[0])
    return found


def test_crop_offsets_differ_between_images_and_cover_every_position():
    x = _batch(n=200)
    offsets = _offsets(x, RandomCrop(5, padding=1, rng=0)(x), padding=1)
    assert set(offsets) == {(t, l) for t in range(3) for l in range(3)}


def test_crop_pads_with_zeros():
    x = np.ones((50, 1, 4, 4), dtype=np.float32)
    out = RandomCrop(4, padding=2, rng=1)(x)
    assert np.any(out == 0.0) and set(np.unique(out).tolist()) <= {0.0, 1.0}


def test_crop_accepts_a_rectangular_size():
    out = RandomCrop((3, 4), padding=0, rng=0)(_batch(h=5, w=6))
    assert out.shape == (4, 3, 3, 4)


def test_crop_of_a_single_image_keeps_its_shape():
    out = RandomCrop(5, padding=2, rng=0)(_batch()[0])
    assert out.shape == (3, 5, 5)


def test_crop_keeps_tensors_as_tensors_and_float32():
    out = RandomCrop(5, padding=1, rng=0)(Tensor(_batch()))
    assert isinstance(out, Tensor) and out.dtype == np.float32


def test_crop_does_not_modify_its_input():
    x = Tensor(_batch())  # a Tensor, so the check reads the array where the code ran
    before = np.array(x.data)
    RandomCrop(5, padding=2, rng=0)(x)
    np.testing.assert_array_equal(x.data, before)


def test_crop_larger_than_the_padded_image_is_refused():
    with pytest.raises(ValueError):
        RandomCrop(10, padding=1)(_batch())


def test_crop_is_reproducible_from_the_seed():
    x = _batch(n=16)
    np.testing.assert_array_equal(RandomCrop(5, padding=2, rng=4)(x), RandomCrop(5, padding=2, rng=4)(x))


def test_flip_decides_per_image():
    x = _batch(n=200)
    out = RandomHorizontalFlip(p=0.5, rng=0)(x)
    flipped = np.array([np.array_equal(out[i], x[i, :, :, ::-1]) for i in range(200)])
    kept = np.array([np.array_equal(out[i], x[i]) for i in range(200)])
    assert np.all(flipped | kept)
    assert 60 < flipped.sum() < 140


def test_flip_mirrors_width_not_height():
    x = _batch(n=1)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x)[0, 0, 0], x[0, 0, 0, ::-1])


def test_flip_does_not_modify_its_input():
    x = Tensor(_batch())  # a Tensor, so the check reads the array where the code ran
    before = np.array(x.data)
    RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(x.data, before)


def test_flip_of_a_single_image():
    x = _batch()[0]
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[:, :, ::-1])


def test_normalize_does_not_modify_its_input():
    x = Tensor(_batch())  # a Tensor, so the check reads the array where the code ran
    before = np.array(x.data)
    Normalize([1, 2, 3], [1, 2, 3])(x)
    np.testing.assert_array_equal(x.data, before)


def test_normalize_values_per_channel():
    x = _batch()
    mean, std = np.array([0.1, -0.2, 0.3]), np.array([0.5, 2.0, 1.5])
    expected = (x - mean[:, None, None]) / std[:, None, None]
    np.testing.assert_allclose(Normalize(mean, std)(x), expected, rtol=1e-5, atol=1e-6)


def test_normalize_of_a_tensor_is_a_float32_tensor():
    out = Normalize([0.1, 0.2, 0.3], [0.3, 0.3, 0.3])(Tensor(_batch()))
    assert isinstance(out, Tensor) and out.dtype == np.float32


def test_normalize_refuses_zero_std():
    with pytest.raises(ValueError):
        Normalize([0.0], [0.0])


def test_compose_of_nothing_is_the_identity():
    x = _batch()
    np.testing.assert_array_equal(Compose([])(x), x)


def test_compose_chains_crop_flip_and_normalize():
    x = _batch(n=8)
    out = Compose([RandomCrop(5, padding=0, rng=0), RandomHorizontalFlip(p=1.0), Normalize([0, 0, 0], [2, 2, 2])])(x)
    np.testing.assert_allclose(out, x[..., ::-1] / 2, rtol=1e-6)


@pytest.mark.parametrize("size", [(7, 2), (2, 7)], ids=["too-tall", "too-wide"])
def test_crop_too_big_in_one_dimension_is_refused_naming_the_crop(size):
    """The padded image is 6 x 6: a 7-pixel side must be refused by the crop itself, naming it."""
    with pytest.raises(ValueError, match="(?i)crop"):
        RandomCrop(size, padding=1)(np.zeros((2, 1, 4, 4), dtype=np.float32))
