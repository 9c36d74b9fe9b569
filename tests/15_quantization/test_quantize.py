"""Module 15: int8 quantization of arrays against its definition."""

import numpy as np
import pytest

from tinytorch.perf.quantization import quantization_params, quantize, quantize_values


def within_half_a_step(qt, x):
    error = np.abs(qt.dequantize() - x)
    return bool(np.all(error <= qt.scale / 2 * (1 + 1e-5) + 1e-7))


def test_quantize_stores_int8(rng):
    qt = quantize(rng.standard_normal((4, 5)))
    assert qt.q.dtype == np.int8 and qt.q.shape == (4, 5)


def test_symmetric_quantization_of_known_values():
    qt = quantize(np.array([-1.0, 0.0, 0.5, 1.0]))
    assert qt.q.tolist() == [-127, 0, 64, 127]
    assert float(qt.scale) == pytest.approx(1 / 127)
    assert int(qt.zero_point) == 0


@pytest.mark.parametrize("symmetric", [True, False])
def test_dequantize_error_is_at_most_half_a_step(rng, symmetric):
    x = rng.standard_normal((6, 8)).astype(np.float32) * 3 + 1
    qt = quantize(x, symmetric=symmetric)
    assert qt.dequantize().dtype == np.float32
    assert within_half_a_step(qt, x)


def test_asymmetric_uses_all_256_levels_for_a_shifted_range(rng):
    x = rng.uniform(-1.0, 3.0, size=1000).astype(np.float32)
    x[:2] = [-1.0, 3.0]
    qt = quantize(x, symmetric=False)
    assert float(qt.scale) == pytest.approx(4.0 / 255, rel=1e-5)
    assert qt.q.min() == -128 and qt.q.max() == 127


def test_zero_point_stays_in_int8_range_for_all_positive_data(rng):
    """ReLU outputs: the range is widened to include 0, so the zero point is a valid int8."""
    x = rng.uniform(10.0, 12.0, size=50).astype(np.float32)
    qt = quantize(x, symmetric=False)
    assert -128 <= int(qt.zero_point) <= 127
    assert within_half_a_step(qt, x)


def test_zero_is_exact_after_asymmetric_quantization(rng):
    x = np.concatenate([rng.uniform(-0.3, 2.7, size=20), [0.0]]).astype(np.float32)
    assert quantize(x, symmetric=False).dequantize()[-1] == 0.0


def test_per_channel_gives_each_channel_its_own_scale():
    x = np.array([[1.0, 100.0], [-0.5, 50.0], [0.25, -20.0]], dtype=np.float32)  # columns differ 100x
    qt = quantize(x, axis=1)
    np.testing.assert_allclose(np.ravel(qt.scale), [1.0 / 127, 100.0 / 127], rtol=1e-6)
    assert within_half_a_step(qt, x)
    np.testing.assert_allclose(qt.dequantize()[:, 0], x[:, 0], atol=1.0 / 254 + 1e-6)


def test_all_zero_tensor_needs_no_division_by_zero():
    with np.errstate(all="raise"):
        qt = quantize(np.zeros((3, 4)), axis=0, symmetric=False)
    assert np.all(np.isfinite(qt.scale)) and np.all(qt.dequantize() == 0)


def test_int8_storage_is_about_four_times_smaller(rng):
    x = rng.standard_normal((256, 64)).astype(np.float32)
    assert x.nbytes / quantize(x, axis=1).nbytes >= 3.9


def test_quantization_params_by_hand():
    scale, zero_point = quantization_params(-1.0, 3.0, symmetric=False)
    assert float(scale) == pytest.approx(4 / 255)
    assert int(zero_point) == round(-128 + 1.0 / (4 / 255))
    scale, zero_point = quantization_params(-2.0, 0.5, symmetric=True)
    assert float(scale) == pytest.approx(2 / 127) and int(zero_point) == 0


def test_quantize_values_saturates_instead_of_wrapping():
    q = quantize_values(np.array([1000.0, -1000.0, 0.26]), np.float32(0.1), np.int8(5))
    assert q.dtype == np.int8 and q.tolist() == [127, -128, 8]
