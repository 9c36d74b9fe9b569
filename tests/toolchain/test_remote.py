"""The remote runtime as a library: wire values, proxies, callbacks, failures and restarts.

A toy ``tinytorch`` package in tmp_path is served by a real ``tinytorch_grader.remote.server``
process (no sandbox: these tests are about the protocol; tests/hostile and test_isolation cover
the sandbox)."""

from __future__ import annotations

import io
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinytorch_grader.remote import codec, errors, proxy, wire
from tinytorch_grader.remote.connection import Connection, Launch

GRADERS = Path(__file__).resolve().parents[2] / "graders"
TOY = '''
import os
import numpy as np

class Box:
    __array_ufunc__ = None

    def __init__(self, value):
        self.value = np.asarray(value, dtype=np.float32)

    def __add__(self, other):
        other = other.value if isinstance(other, Box) else other
        return Box(self.value + other)

    __radd__ = __add__

    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return self.value

    def double(self):
        return Box(self.value * 2)

    def apply(self, fn):
        return fn(self.value)


class Layer:
    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError("forward")


class ShapeError(ValueError):
    pass


def fail(shape):
    raise ShapeError(f"bad shape {shape}")


def sneaky():
    return np.array([1.0, 2.0]).view(Subclass)


class Subclass(np.ndarray):
    pass


def exit_now():
    os._exit(3)


def spin():
    while True:
        pass


def total(items):
    return sum(float(x) for x in items)


def in_threads(fn, count):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(fn, range(count)))
'''


@pytest.fixture
def conn(tmp_path):
    package = tmp_path / "tree" / "tinytorch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(textwrap.dedent(TOY))
    env = {"PYTHONPATH": f"{tmp_path / 'tree'}:{GRADERS}", "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    launch = Launch(command=[sys.executable, "-s", "-B", "-m", "tinytorch_grader.remote.server", "{fd}"],
                    env=env, cwd=str(tmp_path / "tree"))
    connection = Connection("student", launch, timeout=20)
    yield connection
    connection.close()


@pytest.fixture
def toy(conn):
    return conn.module("tinytorch.toy")


def test_values_round_trip_exactly(conn):
    values = [None, True, 3, 2**70, -1.5, math.inf, "text", b"\x00\x01", (1, 2), {"a": [1, {2: 3}]}, {1, 2},
              slice(1, None, 2), Ellipsis, range(3), 1 + 2j, np.float32(0.5), np.dtype("int64"), np.int8,
              float, Path("/tmp/x"), np.arange(6, dtype=np.int16).reshape(2, 3)]
    back = conn.decode(conn.encode(values))
    for original, copy in zip(values, back):
        if isinstance(original, np.ndarray):
            np.testing.assert_array_equal(copy, original)
            assert copy.dtype == original.dtype and not copy.flags.writeable
        else:
            assert copy == original and type(copy) is type(original)
    assert math.isnan(conn.decode(conn.encode(float("nan"))))


def test_generator_and_bytesio_are_copied_by_value(conn):
    generator = np.random.default_rng(7)
    copy = conn.decode(conn.encode(generator))
    assert copy.standard_normal() == np.random.default_rng(7).standard_normal()
    assert conn.decode(conn.encode(io.BytesIO(b"abc"))).read() == b"abc"


def test_object_arrays_and_unknown_kinds_are_refused():
    class Plain(codec.Codec):
        pass

    with pytest.raises(TypeError):
        Plain().encode(np.array([object()], dtype=object))
    forged = wire.pack([codec.Codec._pack_ext(codec.ARRAY, ["|O8", [1], b"\0" * 8])], default=None)
    with pytest.raises(wire.ProtocolError, match="not allowed"):
        Plain().decode(forged)
    short = wire.pack([codec.Codec._pack_ext(codec.ARRAY, ["<f4", [4], b"\0" * 8])], default=None)
    with pytest.raises(wire.ProtocolError, match="does not match"):
        Plain().decode(short)


def test_proxies_construct_call_and_compute(toy):
    box = toy.Box([1.0, 2.0])
    assert isinstance(box, toy.Box) and type(box).__name__ == "Box"
    np.testing.assert_array_equal((box + 1).value, [2.0, 3.0])
    np.testing.assert_array_equal((1 + box).value, [2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(box.double()), [2.0, 4.0])
    np.testing.assert_array_equal((np.ones(2) + box).value, [2.0, 3.0])  # NumPy defers, as in-process
    assert box.double() is not box and toy.Box is toy.Box


def test_a_student_object_never_decides_a_truth_value(toy):
    box = toy.Box([1.0])
    with pytest.raises(proxy.TrustError):
        assert box == 5  # Box.__eq__ always says True
    with pytest.raises(proxy.TrustError):
        bool(box)


def test_ndarray_subclasses_arrive_as_handles_not_arrays(toy):
    value = toy.sneaky()
    assert isinstance(value, proxy.RemoteObject) and not isinstance(value, np.ndarray)


def test_callbacks_run_test_code_and_failed_assertions_stay_failures(toy):
    box = toy.Box([3.0])
    assert box.apply(lambda v: float(v[0]) * 2) == 6.0

    def check(value):
        assert float(value[0]) == 99, "the test's own assertion"

    with pytest.raises(AssertionError, match="the test's own assertion"):
        box.apply(check)


def test_callbacks_from_student_threads_take_turns_on_the_wire(conn, toy):
    # Module 18 teaches worker threads: test code they call at the same moment (here 4 threads,
    # each callback itself asking the server for a Box) must not interleave its frames.
    twice = toy.in_threads(lambda i: float(np.asarray(toy.Box([float(i)]).double())[0]), 64)
    assert twice == [2.0 * i for i in range(64)]
    assert toy.in_threads(lambda i: i + 1, 200) == list(range(1, 201)) and conn.generation == 1


def test_a_test_subclass_runs_its_methods_here(toy):
    seen = []

    class Double(toy.Layer):
        def forward(self, x):
            seen.append(float(x))
            return x * 2

    layer = Double()
    assert layer(3.0) == 6.0 and seen == [3.0] and layer.calls == 1
    assert isinstance(layer, toy.Layer)


def test_test_objects_and_generators_can_be_used_by_student_code(toy):
    assert toy.total(x for x in [1.0, 2.0, 3.5]) == 6.5


def test_student_exceptions_keep_their_builtin_base_and_message(toy):
    with pytest.raises(ValueError, match=r"bad shape \(2, 3\)") as caught:
        toy.fail((2, 3))
    assert isinstance(caught.value, errors.StudentException)
    assert "toy.py" in caught.value.student_traceback


def test_a_crash_fails_one_request_and_the_next_starts_afresh(conn, toy):
    with pytest.raises(errors.Crashed, match="exited with status 3"):
        toy.exit_now()
    assert float(np.asarray(toy.Box([4.0]))[0]) == 4.0  # a new server, the module found again
    assert conn.generation == 2


def test_a_hang_is_stopped_at_the_timeout(conn, toy):
    conn.timeout = 1
    with pytest.raises(errors.Crashed, match="did not answer within 1 s"):
        toy.spin()


def test_objects_of_a_dead_server_say_so(conn, toy):
    box = toy.Box([1.0])
    with pytest.raises(errors.Crashed):
        toy.exit_now()
    with pytest.raises(errors.Restarted, match="before it was restarted"):
        box.double()


def test_an_oversized_frame_is_refused_before_it_is_read():
    import socket

    a, b = socket.socketpair()
    a.sendall(wire.HEADER.pack(wire.MAX_FRAME + 1))
    with pytest.raises(wire.ProtocolError, match="exceeds"):
        wire.receive(b)
