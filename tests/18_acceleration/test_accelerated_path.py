"""Module 18: the accelerated path computes what modules 09 and 12 compute: values and gradients.

Each test runs the same input and the same upstream gradient through the module-09/12 layer and
through its accelerated version (which shares its parameters), and compares outputs, the input's
gradient and every parameter's gradient to float32 tolerance.
"""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, LayerNorm
from tinytorch.core.embeddings import Embedding
from tinytorch.perf.acceleration import (AcceleratedBatchNorm2d, AcceleratedConv2d, AcceleratedEmbedding, AcceleratedGELU,
                                         AcceleratedLayerNorm,
                                         AcceleratedLinear, AcceleratedMaxPool2d,
                                         AcceleratedMultiHeadAttention, accelerate, flipped_weight_matrix,
                                         fused_attention, im2col_nhwc)

TOLERANCE = dict(rtol=1e-4, atol=5e-5)


def _run(model, x, upstream, **kwargs):
    """(output, d input, [d parameter]) for one forward and backward with the given upstream gradient."""
    model.zero_grad()
    inputs = Tensor(x, requires_grad=True)
    out = model(inputs, **kwargs)
    (out * Tensor(upstream)).sum().backward()
    return out.data, inputs.grad.data, [p.grad.data for p in model.parameters()]


def _assert_same_values_and_gradients(plain, fast, x, **kwargs):
    out = plain(Tensor(x), **kwargs)
    upstream = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
    expected, got = _run(plain, x, upstream, **kwargs), _run(fast, x, upstream, **kwargs)
    np.testing.assert_allclose(got[0], expected[0], **TOLERANCE, err_msg="forward values differ")
    np.testing.assert_allclose(got[1], expected[1], **TOLERANCE, err_msg="input gradients differ")
    assert len(got[2]) == len(expected[2])
    for fast_grad, plain_grad in zip(got[2], expected[2]):
        np.testing.assert_allclose(fast_grad, plain_grad, **TOLERANCE, err_msg="parameter gradients differ")


def _images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_im2col_nhwc_lays_out_each_window_as_a_row():
    padded = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    cols = im2col_nhwc(padded, (3, 3), 1)
    assert cols.shape == (2, 2, 2, 3, 3, 3)
    np.testing.assert_array_equal(cols[1, 0, 1], padded[1, 0:3, 1:4, :])
    strided = im2col_nhwc(padded, (2, 2), 2)
    np.testing.assert_array_equal(strided[0, 1, 1], padded[0, 2:4, 2:4, :])


def test_im2col_nhwc_fills_a_given_buffer():
    padded = _images((1, 5, 5, 2))
    buffer = np.zeros((1, 3, 3, 3, 3, 2), np.float32)
    result = im2col_nhwc(padded, (3, 3), 1, out=buffer)
    np.testing.assert_array_equal(result, im2col_nhwc(padded, (3, 3), 1))


def test_flipped_weight_matrix_turns_the_kernel_and_swaps_channels():
    weight = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)  # (F=2, C=3, 2, 2)
    flipped = flipped_weight_matrix(weight)
    assert flipped.shape == (2 * 2 * 2, 3)
    np.testing.assert_array_equal(flipped[0], weight[0, :, 1, 1])  # row (di=0, dj=0, f=0)
    np.testing.assert_array_equal(flipped[2 * 2 * 2 - 1], weight[1, :, 0, 0])  # row (1, 1, f=1)


@pytest.mark.parametrize("stride,padding", [(1, 1), (1, 0), (2, 1)])
def test_accelerated_conv_matches_module_09(stride, padding):
    conv = Conv2d(3, 5, 3, stride=stride, padding=padding, rng=np.random.default_rng(1))
    conv.bias.data = _images((5,), seed=2)
    _assert_same_values_and_gradients(conv, AcceleratedConv2d(conv, chunk=2), _images((3, 3, 8, 8)))


def test_accelerated_conv_without_bias_and_with_one_image_per_chunk():
    conv = Conv2d(4, 6, 3, padding=1, bias=False, rng=np.random.default_rng(3))
    _assert_same_values_and_gradients(conv, AcceleratedConv2d(conv, chunk=1), _images((3, 4, 6, 6)))


def test_accelerated_conv_on_two_threads_matches_module_09():
    conv = Conv2d(3, 4, 3, padding=1, rng=np.random.default_rng(4))
    fast = accelerate(Sequential(conv), chunk=1, workers=2)
    assert isinstance(fast[0], AcceleratedConv2d)
    _assert_same_values_and_gradients(Sequential(conv), fast, _images((5, 3, 6, 6)))


@pytest.mark.parametrize("relu,spread", [(False, 2.0), (True, 2.0), (False, 0.01)])  # 0.01: eps matters
def test_accelerated_batchnorm_matches_module_09(relu, spread):
    bn = BatchNorm2d(4)
    bn.gamma.data = _images((4,), seed=6)
    bn.beta.data = _images((4,), seed=7)
    plain = Sequential(bn, ReLU()) if relu else Sequential(bn)
    x = _images((3, 4, 5, 5)) * np.float32(spread) + 1
    _assert_same_values_and_gradients(plain, Sequential(AcceleratedBatchNorm2d(bn, relu=relu)), x)


def test_batchnorm_relu_and_pool_on_two_threads_match_module_09():
    bn = BatchNorm2d(3)
    bn.gamma.data = _images((3,), seed=11)
    bn.beta.data = _images((3,), seed=12)
    plain = Sequential(bn, ReLU(), MaxPool2d(2))
    fast = accelerate(plain, workers=2)
    assert isinstance(fast[0], AcceleratedBatchNorm2d) and fast[0].relu and fast[0].workers == 2
    assert isinstance(fast[1], AcceleratedMaxPool2d) and fast[1].workers == 2
    _assert_same_values_and_gradients(plain, fast, _images((5, 3, 6, 6)) * 2 + 1)  # 5 images: parts of 3 and 2


def test_accelerated_batchnorm_updates_the_running_statistics_like_module_09():
    x = _images((4, 3, 5, 5)) * 3 + 2
    plain, wrapped = BatchNorm2d(3), BatchNorm2d(3)
    plain(Tensor(x))
    AcceleratedBatchNorm2d(wrapped, relu=True)(Tensor(x))
    np.testing.assert_allclose(wrapped.running_mean, plain.running_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wrapped.running_var, plain.running_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 2])  # M = 1 and 2 values per channel: the unbiased factor's edge
def test_accelerated_batchnorm_running_statistics_with_one_or_two_values_per_channel(batch):
    x = _images((batch, 3, 1, 1)) * 3 + 2
    plain, wrapped = BatchNorm2d(3), BatchNorm2d(3)
    plain(Tensor(x))
    AcceleratedBatchNorm2d(wrapped)(Tensor(x))
    np.testing.assert_allclose(wrapped.running_var, plain.running_var, rtol=1e-5, atol=1e-6)


def test_accelerated_batchnorm_trained_then_evaluated_matches_module_09():
    x = _images((3, 2, 4, 4)) + 1
    plain, wrapped = BatchNorm2d(2), BatchNorm2d(2)
    fused = AcceleratedBatchNorm2d(wrapped, relu=True)
    for _ in range(3):
        plain(Tensor(x))
        fused(Tensor(x))
    plain.eval()
    fused.eval()
    expected = np.maximum(plain(Tensor(x)).data, 0)
    np.testing.assert_allclose(fused(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_accelerated_maxpool_matches_module_09():
    pool = MaxPool2d(2)
    _assert_same_values_and_gradients(Sequential(pool), Sequential(AcceleratedMaxPool2d(pool)), _images((2, 3, 6, 8)))


def test_accelerated_maxpool_with_more_images_than_rows_matches_module_09():
    pool = MaxPool2d(2)
    _assert_same_values_and_gradients(Sequential(pool), Sequential(AcceleratedMaxPool2d(pool)), _images((5, 3, 2, 4)))


def test_accelerated_maxpool_sends_a_tied_gradient_to_the_first_maximum():
    x = np.ones((1, 1, 2, 2), np.float32)
    inputs = Tensor(x, requires_grad=True)
    AcceleratedMaxPool2d(MaxPool2d(2))(inputs).sum().backward()
    np.testing.assert_array_equal(inputs.grad.data, [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_accelerated_maxpool_by_hand_and_refuses_overlapping_windows():
    x = np.array([[[[1, 5, 2, 0], [3, 4, 8, 1], [0, 0, 1, 1], [9, 0, 1, 2]]]], np.float32)
    np.testing.assert_array_equal(AcceleratedMaxPool2d(MaxPool2d(2))(Tensor(x)).data, [[[[5, 8], [9, 2]]]])
    with pytest.raises(ValueError, match="stride"):
        AcceleratedMaxPool2d(MaxPool2d(3, stride=2))


def test_fused_attention_matches_module_12():
    attention = MultiHeadAttention(8, 2, rng=np.random.default_rng(8))
    x = _images((2, 5, 8), seed=9)
    _assert_same_values_and_gradients(attention, AcceleratedMultiHeadAttention(attention), x, causal=True)


@pytest.mark.parametrize("shape", [(2, 5, 4), (6, 4)])  # (B, T, d) and a single (T, d) sequence: other ranks than MHA's
def test_fused_attention_on_other_ranks_matches_module_12(shape):
    rng = np.random.default_rng(18)
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    causal = np.tril(np.ones((shape[-2], shape[-2]), dtype=bool))
    upstream = rng.standard_normal(shape)
    results = []
    for attend in (lambda q, k, v: scaled_dot_product_attention(q, k, v, causal)[0], lambda q, k, v: fused_attention(q, k, v, causal)):
        inputs = [Tensor(a, requires_grad=True) for a in arrays]
        out = attend(*inputs)
        (out * Tensor(upstream)).sum().backward()
        results.append([out.data] + [t.grad.data for t in inputs])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)


def test_fused_attention_hides_masked_keys():
    rng = np.random.default_rng(10)
    q, k = Tensor(rng.standard_normal((1, 3, 4))), Tensor(rng.standard_normal((1, 3, 4)))
    v = Tensor(np.arange(12.0).reshape(1, 3, 4))
    mask = np.array([[True, False, False], [True, True, False], [True, True, True]])
    out = fused_attention(q, k, v, mask)
    np.testing.assert_allclose(out.data[0, 0], v.data[0, 0], rtol=1e-7)  # the first query sees only key 0


def test_attention_without_projection_biases_is_accelerated_and_mixed_biases_keep_module_12():
    rng = np.random.default_rng(43)
    x = _images((2, 5, 8))
    plain = MultiHeadAttention(8, 2, rng=rng)
    plain.q_proj, plain.k_proj, plain.v_proj = (Linear(8, 8, bias=False, rng=rng) for _ in range(3))
    fast = accelerate(plain)
    assert isinstance(fast, AcceleratedMultiHeadAttention)
    _assert_same_values_and_gradients(plain, fast, x, causal=True)
    plain.k_proj = Linear(8, 8, rng=rng)  # one bias among three: the projections cannot be stacked
    kept = accelerate(plain)
    assert type(kept) is MultiHeadAttention and isinstance(kept.q_proj, AcceleratedLinear)
    _assert_same_values_and_gradients(plain, kept, x, causal=True)
    with pytest.raises(ValueError, match="cannot be stacked"):
        AcceleratedMultiHeadAttention(plain)


def test_accelerated_linear_on_a_batch_of_sequences_matches_module_03():
    linear = Linear(6, 5, rng=np.random.default_rng(15))
    linear.bias.data = _images((5,), seed=16)
    _assert_same_values_and_gradients(Sequential(linear), Sequential(AcceleratedLinear(linear)), _images((3, 4, 6)))


def test_accelerated_linear_without_bias_on_rows():
    linear = Linear(4, 3, bias=False, rng=np.random.default_rng(17))
    _assert_same_values_and_gradients(Sequential(linear), Sequential(AcceleratedLinear(linear)), _images((5, 4)))


def test_accelerated_gelu_matches_module_02():
    x = _images((6, 9), seed=13) * 3
    _assert_same_values_and_gradients(Sequential(Linear(9, 4, rng=np.random.default_rng(14)), GELU()),
                                      Sequential(Linear(9, 4, rng=np.random.default_rng(14)), AcceleratedGELU()), x)


def test_accelerated_gelu_by_hand():
    x = Tensor(np.array([0.0, 2.0, -2.0], np.float32), requires_grad=True)
    out = AcceleratedGELU()(x)
    np.testing.assert_allclose(out.data, [0.0, 1.9545977, -0.0454023], rtol=1e-5, atol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 1.0860993, -0.0860993], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape, offset", [((3, 5, 8), 0.0), ((7, 16), 1000.0)])
def test_accelerated_layernorm_matches_module_13(shape, offset):
    """With a mean 1,000 times the spread, a variance taken as E[x²] - mean² in float32 is off by percents."""
    layernorm = LayerNorm(shape[-1])
    rng = np.random.default_rng(21)
    layernorm.gamma = Tensor(rng.uniform(0.5, 1.5, shape[-1]).astype(np.float32), requires_grad=True)
    layernorm.beta = Tensor(rng.standard_normal(shape[-1]).astype(np.float32), requires_grad=True)
    x = _images(shape, seed=22) + np.float32(offset)
    _assert_same_values_and_gradients(layernorm, AcceleratedLayerNorm(layernorm), x)


def test_accelerated_layernorm_by_hand_and_refuses_the_wrong_width():
    x = Tensor(np.array([[1.0, 3.0]], np.float32), requires_grad=True)
    fast = AcceleratedLayerNorm(LayerNorm(2, eps=0.0))
    out = fast(x)
    np.testing.assert_allclose(out.data, [[-1.0, 1.0]], atol=1e-6)  # mean 2, standard deviation 1
    (out * Tensor(np.array([[1.0, 0.0]], np.float32))).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0]], atol=1e-6)  # x̂ of two values is ±1 whatever x is
    np.testing.assert_allclose(fast.layernorm.gamma.grad.data, [-1.0, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="expects"):
        fast(Tensor(np.zeros((1, 3), np.float32)))


def test_accelerated_embedding_matches_module_11_exactly_with_repeated_ids():
    """Repeats add once per occurrence; the flat scatter adds in module 11's order, so the sums are equal."""
    table = Embedding(7, 5, rng=np.random.default_rng(41))
    fast = AcceleratedEmbedding(table)
    ids = np.array([[3, 3, 0], [6, 3, 1]])
    upstream = np.random.default_rng(42).standard_normal((2, 3, 5)).astype(np.float32)
    grads = []
    for model in (table, fast):
        table.weight.grad = None
        out = model(ids)
        np.testing.assert_array_equal(out.data, table.weight.data[ids])
        (out * Tensor(upstream)).sum().backward()
        grads.append(table.weight.grad.data.copy())
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[1][3], upstream[0, 0] + upstream[0, 1] + upstream[1, 1])
    np.testing.assert_array_equal(grads[1][[2, 4, 5]], 0)  # ids never looked up get no gradient
    with pytest.raises(ValueError, match="token ids must be in"):  # module 11's checks still hold
        fast(np.array([0, 7]))
    with pytest.raises(TypeError, match="integers"):
        fast(np.array([0.0, 1.0]))


def test_accelerate_reaches_both_embeddings_of_a_gpt_and_shares_their_tables():
    gpt = GPT(vocab_size=13, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=5, rng=np.random.default_rng(43))
    fast = accelerate(gpt)
    for name in ("token_embedding", "position_embedding"):
        assert isinstance(getattr(fast, name), AcceleratedEmbedding)
        assert getattr(fast, name).embedding is getattr(gpt, name)
    tokens = np.random.default_rng(44).integers(0, 13, (2, 5))
    np.testing.assert_allclose(fast(Tensor(tokens)).data, gpt(Tensor(tokens)).data, **TOLERANCE)


def test_accelerate_reaches_every_layernorm_of_a_gpt():
    gpt = GPT(vocab_size=13, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=5, rng=np.random.default_rng(23))
    fast = accelerate(gpt)
    norms = [norm for block in fast.blocks for norm in (block.ln1, block.ln2)] + [fast.ln_f]
    assert all(isinstance(norm, AcceleratedLayerNorm) for norm in norms)
    assert not any(isinstance(block.ln1, AcceleratedLayerNorm) for block in gpt.blocks)  # the original is kept
    originals = [norm for block in gpt.blocks for norm in (block.ln1, block.ln2)] + [gpt.ln_f]
    assert all(fast_norm.layernorm is norm for fast_norm, norm in zip(norms, originals))  # shared parameters
    tokens = np.random.default_rng(24).integers(0, 13, (2, 5))
    np.testing.assert_allclose(fast(Tensor(tokens)).data, gpt(Tensor(tokens)).data, **TOLERANCE)


@pytest.mark.parametrize("batch", [1, 3])
def test_a_gpt_on_two_threads_matches_module_13_values_and_gradients(batch):
    """Every layer of the accelerated GPT splits its rows (or batch items) over 2 workers; an odd
    row count (3 x 5 = 15 rows: 8 and 7) and a batch of one (attention on one worker) included."""
    from tinytorch.core.losses import CrossEntropyLoss

    gpt = GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=5, rng=np.random.default_rng(31))
    fast = accelerate(gpt, workers=2)
    block = fast.blocks[0]
    assert all(layer.workers == 2 for layer in (block.ln1, block.attention, block.attention.out_proj,
                                                 block.mlp.fc1, block.mlp.activation, fast.lm_head))
    rng = np.random.default_rng(32)
    tokens, targets = rng.integers(0, 11, (batch, 5)), rng.integers(0, 11, batch * 5)
    results = []
    for model in (gpt, fast):
        model.zero_grad()
        logits = model(Tensor(tokens))
        CrossEntropyLoss()(logits.reshape(-1, 11), targets).backward()
        results.append((logits.data, [p.grad.data.copy() for p in model.parameters()]))
    np.testing.assert_allclose(results[1][0], results[0][0], **TOLERANCE, err_msg="logits differ")
    assert len(results[1][1]) == len(results[0][1])
    for fast_grad, plain_grad in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(fast_grad, plain_grad, **TOLERANCE, err_msg="parameter gradients differ")


def test_accelerate_rewrites_a_cnn_and_shares_its_parameters():
    rng = np.random.default_rng(11)
    model = Sequential(Conv2d(3, 4, 3, padding=1, rng=rng), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(4 * 3 * 3, 2, rng=rng))
    fast = accelerate(model)
    kinds = [type(layer).__name__ for layer in fast]
    assert kinds == ["AcceleratedConv2d", "AcceleratedBatchNorm2d", "AcceleratedMaxPool2d", "Flatten", "AcceleratedLinear"]
    assert "Accelerated" in repr(fast)
    assert [type(layer).__name__ for layer in model][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]  # original kept
    fast_parameters, parameters = fast.parameters(), model.parameters()
    assert len(fast_parameters) == len(parameters)
    assert all(a is b for a, b in zip(fast_parameters, parameters))
    _assert_same_values_and_gradients(model, fast, _images((2, 3, 6, 6)))


def test_accelerate_takes_a_chunk_size_and_rejects_nonsense_options():
    conv = Conv2d(2, 3, 3, padding=1, rng=np.random.default_rng(12))
    x = _images((3, 2, 5, 5))
    np.testing.assert_allclose(accelerate(Sequential(conv), chunk=2)(Tensor(x)).data, conv(Tensor(x)).data, **TOLERANCE)
    with pytest.raises(ValueError, match="chunk"):
        accelerate(Sequential(conv), chunk=0)
