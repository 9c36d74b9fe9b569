"""Module 18, hidden: edge cases of every rewrite, and what each costs in memory."""

import numpy as np
import pytest
from tinytorch_grader.testkit import peak_bytes

from tinytorch.perf.acceleration import (compare, conv2d_im2col, conv2d_loops, gelu_fused, gelu_unfused,
                                         matmul_blocked, matmul_naive, matmul_vectorized)

R = np.random.default_rng(7)


def test_blocked_matmul_with_tiles_larger_than_the_matrix():
    a, b = R.standard_normal((3, 5)), R.standard_normal((5, 2))
    np.testing.assert_allclose(matmul_blocked(a, b, block=100), a @ b, rtol=1e-10)


def test_blocked_matmul_covers_ragged_edges_in_every_dimension():
    a, b = R.standard_normal((67, 70)), R.standard_normal((70, 65))
    np.testing.assert_allclose(matmul_blocked(a, b, block=16), a @ b, rtol=1e-9)


def test_blocked_matmul_refuses_a_zero_tile():
    np.testing.assert_allclose(matmul_blocked(np.eye(2), np.ones((2, 2)), block=1), np.ones((2, 2)))
    with pytest.raises(ValueError):
        matmul_blocked(np.ones((2, 2)), np.ones((2, 2)), block=0)


def test_integer_matmuls_are_exact():
    a = R.integers(-5, 5, (4, 6))
    b = R.integers(-5, 5, (6, 3))
    for matmul in (matmul_naive, matmul_vectorized, matmul_blocked):
        np.testing.assert_array_equal(matmul(a, b), a @ b)


def test_vectorized_matmul_refuses_vectors():
    np.testing.assert_allclose(matmul_vectorized(np.ones((1, 3)), np.ones((3, 2))), np.full((1, 2), 3.0))
    with pytest.raises(ValueError):
        matmul_vectorized(np.ones(3), np.ones((3, 2)))


def test_fused_gelu_allocates_nothing_when_given_a_buffer():
    x = R.standard_normal(200_000).astype(np.float32)
    out = np.empty_like(x)
    gelu_fused(x, out=out)
    _, peak = peak_bytes(gelu_fused, x, out=out)  # measured where gelu_fused runs
    assert peak < x.nbytes // 4, f"the fused GELU allocated {peak} bytes (input is {x.nbytes} bytes)"


def test_fused_gelu_refuses_a_buffer_of_the_wrong_shape():
    x = np.ones(4, np.float32)
    np.testing.assert_allclose(gelu_fused(x, out=np.empty_like(x)), gelu_unfused(x), rtol=1e-6)
    with pytest.raises(ValueError):
        gelu_fused(x, out=np.empty(5, np.float32))


def test_fused_gelu_extreme_values():
    x = np.array([-50.0, -10.0, 10.0, 50.0], np.float32)
    np.testing.assert_allclose(gelu_fused(x), gelu_unfused(x), atol=1e-5)
    np.testing.assert_allclose(gelu_fused(x)[2:], x[2:], rtol=1e-6)


@pytest.mark.parametrize("stride,padding,kernel", [(2, 0, 3), (3, 2, 3), (1, 2, 5), (2, 1, 1)])
def test_loop_and_im2col_convolutions_agree(stride, padding, kernel):
    x = R.standard_normal((2, 3, 9, 8)).astype(np.float64)
    w = R.standard_normal((5, 3, kernel, kernel))
    b = R.standard_normal(5)
    loops = conv2d_loops(x, w, b, stride, padding)
    fast = conv2d_im2col(x, w, b, stride, padding)
    np.testing.assert_allclose(loops, fast, rtol=1e-10)
    h_out = (9 + 2 * padding - kernel) // stride + 1
    assert loops.shape == (2, 5, h_out, (8 + 2 * padding - kernel) // stride + 1)


def test_convolution_against_a_hand_computed_value():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    expected = np.array([[[[10.0, 18.0], [42.0, 50.0]]]])  # 2x2 sums with stride 2
    np.testing.assert_allclose(conv2d_loops(x, w, stride=2), expected)
    np.testing.assert_allclose(conv2d_im2col(x, w, stride=2), expected)


def test_compare_uses_the_median_not_the_first_call():
    calls = []

    def first_call_slow(x):
        calls.append(1)
        if len(calls) == 1:
            import time
            time.sleep(0.05)
        return x

    row = compare("warm", first_call_slow, lambda x: x, np.zeros(2), repeats=5)
    assert row.baseline_ms < 25


# ---------------------------------------------------------------------- the accelerated path
from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.transformer import GPT  # noqa: E402
from tinytorch.perf.acceleration import (AcceleratedConv2d, AcceleratedMaxPool2d,  # noqa: E402
                                         AcceleratedMultiHeadAttention, accelerate)

TOLERANCE = dict(rtol=1e-4, atol=5e-5)


def _images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _run(model, x, upstream):
    model.zero_grad()
    inputs = Tensor(x, requires_grad=True)
    out = model(inputs)
    (out * Tensor(upstream)).sum().backward()
    return out.data, inputs.grad.data, [p.grad.data for p in model.parameters()]


def _assert_same(plain, fast, x):
    upstream = _images(plain(Tensor(x)).shape, seed=3)
    expected, got = _run(plain, x, upstream), _run(fast, x, upstream)
    for a, b in zip([got[0], got[1], *got[2]], [expected[0], expected[1], *expected[2]]):
        np.testing.assert_allclose(a, b, **TOLERANCE)


@pytest.mark.parametrize("kernel,stride,padding", [((1, 3), 1, 1), ((3, 1), 1, 1), ((3, 3), 1, 2), (5, 1, 2), (1, 1, 0),
                                                   (3, 1, 3), (3, 2, 0), ((2, 3), 3, 1)])
def test_accelerated_conv_for_every_kernel_stride_and_padding(kernel, stride, padding):
    conv = Conv2d(2, 3, kernel, stride=stride, padding=padding, rng=np.random.default_rng(1))
    conv.bias.data = _images((3,), seed=4)
    _assert_same(conv, AcceleratedConv2d(conv, chunk=2), _images((3, 2, 7, 6)))


def test_accelerated_conv_with_a_chunk_larger_than_the_batch_on_two_threads():
    conv = Conv2d(3, 2, 3, padding=1, rng=np.random.default_rng(2))
    _assert_same(Sequential(conv), accelerate(Sequential(conv), chunk=64, workers=2), _images((3, 3, 5, 5)))


def test_accelerated_conv_keeps_no_whole_batch_column_matrix():
    conv = Conv2d(16, 16, 3, padding=1, rng=np.random.default_rng(3))
    fast = AcceleratedConv2d(conv, chunk=2)
    x = Tensor(_images((16, 16, 16, 16)))
    fast(x)  # warm-up: the reused buffers exist now
    # tracemalloc counts every thread of the process: a thread an earlier test left running (seen once
    # under pytest-xdist) can allocate during one call, never during all three; the layer's own
    # allocations are the same every call, so the smallest peak is the layer's.
    peak = min(peak_bytes(fast, x)[1] for _ in range(3))
    whole_batch_columns = 16 * 16 * 16 * 9 * 16 * 4
    assert peak < whole_batch_columns // 2, f"forward allocated {peak} bytes; the whole batch's columns are {whole_batch_columns}"


@pytest.mark.parametrize("kernel,shape", [(2, (2, 3, 7, 7)), (3, (1, 2, 9, 7))])
def test_accelerated_maxpool_drops_partial_windows_like_module_09(kernel, shape):
    pool = MaxPool2d(kernel)
    _assert_same(Sequential(pool), Sequential(AcceleratedMaxPool2d(pool)), _images(shape))


def test_accelerated_maxpool_with_ties_routes_like_module_09():
    x = np.round(_images((2, 2, 4, 4), seed=5))  # many equal values in each window
    pool = MaxPool2d(2)
    _assert_same(Sequential(pool), Sequential(AcceleratedMaxPool2d(pool)), x)


def _cnn(seed):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(3, 4, 3, padding=1, rng=rng), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                      Conv2d(4, 4, 3, padding=1, rng=rng), BatchNorm2d(4), ReLU(),
                      Flatten(), Linear(4 * 3 * 3, 3, rng=rng))


def _train(model, steps=3):
    x = _images((4, 3, 6, 6), seed=6)
    upstream = _images((4, 3), seed=7)
    losses = []
    for _ in range(steps):
        model.zero_grad()
        out = model(Tensor(x))
        loss = (out * Tensor(upstream)).sum()
        loss.backward()
        losses.append(float(loss.item()))
        for p in model.parameters():
            p.data = p.data - np.float32(0.05) * p.grad.data
    return losses


def test_the_accelerated_cnn_trains_like_module_09():
    plain_losses = _train(_cnn(8))
    fast_losses = _train(accelerate(_cnn(8)))
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=1e-3, atol=1e-4)


def test_an_accelerated_cnn_evaluates_with_the_running_statistics():
    model = _cnn(9)
    fast = accelerate(model)
    _train(fast, steps=2)
    model.eval()
    fast.eval()
    x = _images((2, 3, 6, 6), seed=10)
    np.testing.assert_allclose(fast(Tensor(x)).data, model(Tensor(x)).data, **TOLERANCE)


def test_accelerate_reaches_the_attention_inside_a_gpt():
    gpt = GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=6, rng=np.random.default_rng(12))
    fast = accelerate(gpt)
    assert all(isinstance(block.attention, AcceleratedMultiHeadAttention) for block in fast.blocks)
    assert not any(isinstance(block.attention, AcceleratedMultiHeadAttention) for block in gpt.blocks)
    assert all(type(block.mlp.activation).__name__ == "AcceleratedGELU" for block in fast.blocks)
    tokens = np.random.default_rng(13).integers(0, 11, (2, 6))
    upstream = _images((2, 6, 11), seed=14)
    results = []
    for model in (gpt, fast):
        model.zero_grad()
        logits = model(tokens)
        (logits * Tensor(upstream)).sum().backward()
        results.append((logits.data, [p.grad.data for p in model.parameters()]))
    np.testing.assert_allclose(results[1][0], results[0][0], **TOLERANCE)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, **TOLERANCE)
