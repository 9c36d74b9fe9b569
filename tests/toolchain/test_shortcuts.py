"""Shortcut variants: each kind's rewrite computes the region's values by the shortcut it names."""

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from coursetools.author.markers import MarkerError, find_regions
from coursetools.validate.shortcuts import ShortcutError, apply_shortcut, shortcuts_of_file

ROOT = Path(__file__).resolve().parents[2]

TOY = '''\
import numpy as np


def product(a, b):
    #% solution kind="vectorized"
    return a @ b
    #% endsolution


def dot(a, b):
    #% solution kind="vectorized"
    total = np.dot(a, b)
    return total
    #% endsolution


def scaled(x, scale):
    #% solution kind="integer"
    q = np.rint(x / scale).astype(np.int8)
    return q, x.shape[0] // 2
    #% endsolution


def write(store, index, value):
    #% solution kind="in-place"
    store.data[index] = value
    store.count += 1
    return store
    #% endsolution


def naive_matmul(a, b):
    """Triple loop, to show what BLAS saves."""
    #% solution kind="slow-path" fast="a @ b"
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = sum(a[i, k] * b[k, j] for k in range(a.shape[1]))
    return out
    #% endsolution
'''


def load(text: str, name: str):
    """Run a source text as a fresh module (registered while it runs, for dataclasses)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(text, f"<{name}>", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def variant_of(text: str, region_name: str, path: str = "toy.py") -> str:
    [region] = [r for r in find_regions(text, path) if r.name == region_name]
    return apply_shortcut(text, region)


def test_one_variant_per_region_that_declares_a_kind():
    variants = shortcuts_of_file(TOY, "toy.py")
    assert [v.id for v in variants] == ["toy.py::product::shortcut:vectorized", "toy.py::dot::shortcut:vectorized",
                                        "toy.py::scaled::shortcut:integer", "toy.py::write::shortcut:in-place",
                                        "toy.py::naive_matmul::shortcut:slow-path"]
    assert all(v.mutated_text != TOY and v.diff.startswith("--- a/toy.py") for v in variants)


@pytest.mark.parametrize("shape_a, shape_b", [((5, 3), (3, 4)), ((2, 5, 3), (3, 4)), ((2, 1, 5, 3), (3, 3, 2)),
                                              ((3,), (3, 4)), ((5, 3), (3,)), ((4,), (4,))])
def test_the_loop_variant_of_a_numpy_product_gives_the_same_values(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    original, looped = load(TOY, "toy_original"), load(variant_of(TOY, "product"), "toy_looped")
    np.testing.assert_allclose(looped.product(a, b), original.product(a, b), rtol=1e-12, atol=1e-12)
    assert np.shape(looped.product(a, b)) == np.shape(a @ b)
    np.testing.assert_allclose(load(variant_of(TOY, "dot"), "toy_dot").dot(a[..., :3] if a.ndim > 1 else a, b),
                               original.dot(a[..., :3] if a.ndim > 1 else a, b), rtol=1e-12, atol=1e-12)


def test_the_loop_variant_really_loops_in_python():
    variant = variant_of(TOY, "product")
    assert "return _shortcut_loop_matmul(a, b)" in variant and "for index in numpy.ndindex" in variant


def test_the_loop_variant_of_a_tensor_product_keeps_values_and_gradients():
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(1)
    a_data, b_data = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 1, 5, 6))
    looped = load(variant_of(TOY, "product"), "toy_tensor_loop")
    results = []
    for fn in (lambda a, b: a @ b, looped.product):
        a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
        out = fn(a, b)
        (out * Tensor(np.arange(out.size, dtype=np.float64).reshape(out.shape))).sum().backward()
        results.append((out.data, a.grad.data, b.grad.data))
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_reference_loop_variants_match_conv2d_and_attention_on_small_inputs():
    """The generated variants of the real regions compute the reference's outputs and gradients."""
    from tinytorch.core import attention, spatial
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(2)
    x_data = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    spatial_path = "tinytorch/core/spatial.py"
    text = (ROOT / "reference" / spatial_path).read_text(encoding="utf-8")
    looped_text = text
    for name in ("Conv2d.forward", "Conv2dBackward.backward"):
        [region] = [r for r in find_regions(looped_text, spatial_path) if r.name == name]
        assert region.kind == "vectorized"
        looped_text = apply_shortcut(looped_text, region)
    looped = load(looped_text, "spatial_looped")
    outcomes = []
    for module in (spatial, looped):
        conv = module.Conv2d(3, 4, 3, stride=2, padding=1, rng=np.random.default_rng(3))
        x = Tensor(x_data, requires_grad=True)
        out = conv(x)
        (out * Tensor(np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape))).sum().backward()
        outcomes.append((out.data, x.grad.data, conv.weight.grad.data, conv.bias.grad.data))
    for want, got in zip(*outcomes):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    attention_path = "tinytorch/core/attention.py"
    looped_attention = load(variant_of((ROOT / "reference" / attention_path).read_text(encoding="utf-8"),
                                       "scaled_dot_product_attention", attention_path), "attention_looped")
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    mask = np.tril(np.ones((5, 5), dtype=bool))
    outcomes = []
    for module in (attention, looped_attention):
        tensors = [Tensor(t, requires_grad=True) for t in (q, k, v)]
        out, weights = module.scaled_dot_product_attention(*tensors, mask)
        out.sum().backward()
        outcomes.append((out.data, weights.data, *(t.grad.data for t in tensors)))
    for want, got in zip(*outcomes):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_the_integer_variant_computes_in_float_without_rounding():
    variant = load(variant_of(TOY, "scaled"), "toy_float")
    q, half = variant.scaled(np.array([0.26, -0.74, 1.0]), 0.5)
    assert q.dtype == np.float32 and half == pytest.approx(1.5)
    np.testing.assert_allclose(q, [0.52, -1.48, 2.0], rtol=1e-6)


def test_the_in_place_variant_keeps_the_values_and_allocates_fresh_arrays():
    from tinytorch.perf import memoization

    class Store:
        def __init__(self):
            self.data, self.count = np.zeros(4), np.zeros(1)

    store = Store()
    data, count = store.data, store.count
    load(variant_of(TOY, "write"), "toy_fresh").write(store, slice(1, 3), 7.0)
    np.testing.assert_array_equal(store.data, [0, 7, 7, 0])
    np.testing.assert_array_equal(store.count, [1])
    assert not np.shares_memory(store.data, data) and not np.shares_memory(store.count, count)
    assert data.sum() == 0, "the variant must not write into the old array"

    path = "tinytorch/perf/memoization.py"
    fresh = load(variant_of((ROOT / "reference" / path).read_text(encoding="utf-8"), "KVCache.append", path),
                 "memoization_fresh")
    rng = np.random.default_rng(4)
    caches = [module.KVCache(2, 1, 2, 3, 8) for module in (memoization, fresh)]
    for _ in range(3):
        k, v = rng.standard_normal((1, 2, 2, 3)).astype(np.float32), rng.standard_normal((1, 2, 2, 3)).astype(np.float32)
        (want_k, want_v), (got_k, got_v) = (cache.append(1, k, v) for cache in caches)
        np.testing.assert_array_equal(got_k, want_k)
        np.testing.assert_array_equal(got_v, want_v)
        for cache in caches:
            cache.advance(2)


def test_the_slow_path_variant_just_calls_the_fast_expression():
    variant = variant_of(TOY, "naive_matmul")
    assert "    return a @ b\n" in variant and "for j in range" not in variant
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(load(variant, "toy_fast").naive_matmul(a, b), a @ b)


def test_a_kind_with_nothing_to_rewrite_is_refused_with_the_fix():
    source = "def f(x):\n    #% solution kind=\"vectorized\"\n    return x + 1\n    #% endsolution\n"
    with pytest.raises(ShortcutError, match="holds no matrix products"):
        shortcuts_of_file(source, "f.py")
    slow = "def f(x):\n    #% solution kind=\"slow-path\"\n    return x + 1\n    #% endsolution\n"
    with pytest.raises(ShortcutError, match='fast="'):
        shortcuts_of_file(slow, "f.py")


def test_markers_refuse_unknown_kinds_and_a_stray_fast():
    with pytest.raises(MarkerError, match="not a region role"):
        find_regions("#% solution kind=\"fastest\"\nx = 1\n#% endsolution\n", "f.py")
    with pytest.raises(MarkerError, match="slow-path"):
        find_regions("#% solution fast=\"a @ b\"\nx = 1\n#% endsolution\n", "f.py")
    [region] = find_regions("#% solution kind=\"in-place\" hint=\"h\"\nx[0] = 1\n#% endsolution\n", "f.py")
    assert (region.kind, region.hint) == ("in-place", "h")


def test_every_declared_kind_in_the_reference_yields_a_variant(course):
    """A kind on a reference marker that its rule cannot apply would break make validate."""
    count = 0
    for module in course.modules:
        for relative in module.files:
            path = course.root / "reference" / relative
            if path.is_file():
                count += len(shortcuts_of_file(path.read_text(encoding="utf-8"), relative))
    assert count >= 7


def test_the_loop_variant_writes_into_the_out_array_of_np_matmul():
    source = ("import numpy as np\n\n\ndef into(a, b, out):\n    #% solution kind=\"vectorized\"\n"
              "    np.matmul(a, b, out=out)\n    #% endsolution\n    return out\n")
    looped = load(variant_of(source, "into"), "toy_out")
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    target = np.zeros((4, 2))
    assert looped.into(a, b, target) is target
    np.testing.assert_allclose(target, a @ b, rtol=1e-12)
    assert "_shortcut_loop_matmul(a, b, out=out)" in variant_of(source, "into")
