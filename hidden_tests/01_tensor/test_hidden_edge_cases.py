"""Module 01, hidden: the edge cases students most often get wrong."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


def test_broadcasting_a_column_against_a_row_gives_the_outer_shape():
    out = Tensor(np.ones((3, 1), dtype=np.float32)) + Tensor(np.arange(4, dtype=np.float32))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.data[2], [1, 2, 3, 4])


def test_broadcasting_over_a_batch_dimension():
    x = Tensor(np.ones((2, 3, 4), dtype=np.float32))
    assert (x * Tensor(np.arange(4, dtype=np.float32))).shape == (2, 3, 4)
    assert (x - Tensor(np.ones((3, 1), dtype=np.float32))).shape == (2, 3, 4)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "rsub", "rdiv"])
def test_float32_stays_float32_with_python_scalars(op):
    x = Tensor([1.0, 2.0])
    out = {"add": lambda: x + 0.5, "sub": lambda: x - 0.5, "mul": lambda: x * 0.1, "div": lambda: x / 3.0,
           "pow": lambda: x ** 2.0, "rsub": lambda: 1.5 - x, "rdiv": lambda: 2.0 / x}[op]()
    assert out.dtype == np.float32


def test_float32_stays_float32_through_math_and_reductions():
    x = Tensor(np.array([[0.5, 2.0]], dtype=np.float32))
    for out in (x.exp(), x.log(), x.sqrt(), x.mean(), x.sum(axis=1), x @ x.T, -x, x.max()):
        assert out.dtype == np.float32


def test_integer_division_gives_floats():
    out = Tensor([1, 2]) / Tensor([2, 2])
    assert out.dtype.kind == "f"
    np.testing.assert_allclose(out.data, [0.5, 1.0])


def test_operations_do_not_modify_their_inputs():
    data = np.array([[1.0, -2.0], [3.0, 4.0]], dtype=np.float32)
    a, b = Tensor(data.copy()), Tensor(data.copy())
    _ = (a + b, a - b, a * b, a / b, -a, a ** 2, a @ b, a.reshape(4), a.T, a.sum(axis=0), a.max(), a.exp())
    np.testing.assert_array_equal(a.data, data)
    np.testing.assert_array_equal(b.data, data)


def test_exp_of_large_values_overflows_to_inf_not_error():
    with np.errstate(over="ignore"):
        assert np.isinf(Tensor([1000.0]).exp().data[0])


def test_sqrt_and_log_of_tiny_positive_values_are_finite():
    x = Tensor([1e-30, 1e-8])
    assert np.all(np.isfinite(x.log().data))
    assert np.all(np.isfinite(x.sqrt().data))


def test_matmul_with_a_vector_on_the_right():
    m = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    v = Tensor(np.ones(3, dtype=np.float32))
    np.testing.assert_allclose((m @ v).data, [3, 12])


def test_batched_matmul_of_two_batches():
    a = Tensor(np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32))
    b = Tensor(np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32))
    np.testing.assert_allclose((a @ b).data, a.data @ b.data, rtol=1e-5)


def test_mean_over_several_axes():
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    np.testing.assert_allclose(x.mean(axis=(0, 2)).data, x.data.mean(axis=(0, 2)))


def test_max_with_negative_axis_and_keepdims():
    x = Tensor(np.array([[-5.0, -1.0], [-3.0, -4.0]], dtype=np.float32))
    out = x.max(axis=-1, keepdims=True)
    assert out.shape == (2, 1)
    np.testing.assert_allclose(out.data, [[-1.0], [-3.0]])


def test_sum_of_an_integer_tensor_stays_integer():
    assert Tensor([1, 2, 3]).sum().dtype.kind == "i"


def test_boolean_mask_indexing():
    x = Tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32))
    np.testing.assert_allclose(x[x.data > 0].data, [1.0, 3.0])


def test_transpose_twice_is_identity():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(x.T.T.data, x.data)


def test_permute_accepts_negative_axes():
    assert Tensor(np.zeros((2, 3, 4), dtype=np.float32)).permute(-1, 0, 1).shape == (4, 2, 3)


def test_tracked_ops_record_their_rule_and_parents():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = a * 3
    assert out.requires_grad
    assert out.grad_fn.name == "MulBackward"
    assert out.grad_fn.parents[0] is a


def test_untracked_inputs_build_no_graph():
    out = Tensor([1.0]) + Tensor([2.0])
    assert not out.requires_grad and out.grad_fn is None


def test_empty_list_makes_an_empty_float_tensor():
    t = Tensor([])
    assert t.shape == (0,) and t.dtype == np.float32


def test_reshape_infers_the_minus_one_dimension_in_three_dimensions():
    assert Tensor(np.zeros(24, dtype=np.float32)).reshape(2, -1, 3).shape == (2, 4, 3)


def test_default_transpose_of_a_batch_swaps_the_last_two_dimensions():
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.transpose().data, np.swapaxes(x.data, -1, -2))


def test_negative_indexing_and_steps():
    x = Tensor(np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(x[-3:].data, [7, 8, 9])
    np.testing.assert_array_equal(x[::4].data, [0, 4, 8])


def test_sum_with_keepdims_keeps_every_axis():
    assert Tensor(np.ones((2, 3, 4), dtype=np.float32)).sum(axis=1, keepdims=True).shape == (2, 1, 4)


def test_mean_of_integers_is_a_float():
    out = Tensor([1, 2]).mean()
    assert out.dtype.kind == "f" and out.item() == 1.5


def test_broadcasting_incompatible_shapes_raises():
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3), dtype=np.float32)) + Tensor(np.ones((4,), dtype=np.float32))
