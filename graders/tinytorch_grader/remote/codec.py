"""Values on the wire: what crosses between the test process and the student's process.

By value: None, bool, int, float, complex, str, bytes; list, tuple, dict, set of values; exact
``numpy.ndarray`` of a numeric, bool or fixed-width string dtype; NumPy scalars, dtypes and scalar
types; the builtin types; slice, range, Ellipsis; ``pathlib`` paths; ``io.BytesIO`` (its bytes);
``numpy.random.Generator`` (its bit generator's state, so the copy draws what the original would).
Everything else is an object that stays where it lives and crosses as a handle; what a side does
with handles is its own (``server.Handles``, ``connection.Connection``), given to ``Codec``.

Only exact types pass by value (a subclass of ndarray or float is a handle), and every value is
rebuilt from plain data on arrival, so no object of the other side's making ever exists here.
"""

from __future__ import annotations

import io
import pathlib
import re

import msgpack
import numpy as np

from tinytorch_grader.remote import wire

(TUPLE, DICT, ARRAY, SCALAR, DTYPE, PYTYPE, NPTYPE, SLICE, ELLIPSIS, COMPLEX, SET, FROZENSET, PATH,
 BYTESIO, GENERATOR, RANGE, BIGINT, HANDLE, CLASS, CLASSREF, CALLBACK, TESTOBJECT) = range(1, 23)

MAX_DEPTH = 48
MAX_DIMS = 32
DTYPE_PATTERN = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[US]\d{1,4})$")
BUILTIN_TYPES = {t.__name__: t for t in (int, float, bool, complex, str, bytes, list, tuple, dict, set,
                                         frozenset, object, slice, type(None))}
BUILTIN_TYPES["ndarray"] = np.ndarray
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
INT64 = (-2**63, 2**63 - 1)


class Codec:
    """Turns values into msgpack documents and back; ``object_to_wire``/``ext_to_object`` are the
    side's own treatment of handles, classes and callbacks."""

    writable_arrays = False
    """Arrays arrive read-only in the test process (writing into a copy would do nothing) and as
    writable copies in the student's process (its code may write into what it is given)."""

    def encode(self, value) -> bytes:
        return wire.pack(self.to_wire(value, 0), default=None)

    def decode(self, payload: bytes):
        return wire.unpack(payload, self._from_ext)

    # -- to the wire ------------------------------------------------------------------------
    def to_wire(self, value, depth: int):
        if depth > MAX_DEPTH:
            raise ValueError(f"a value nested more than {MAX_DEPTH} levels deep cannot be sent")
        kind = type(value)
        if value is None or kind in (bool, float, str, bytes):
            return value
        if kind is int:
            return value if INT64[0] <= value <= INT64[1] else msgpack.ExtType(BIGINT, str(value).encode())
        if kind is list:
            return [self.to_wire(item, depth + 1) for item in value]
        if kind in (tuple, set, frozenset):
            code = {tuple: TUPLE, set: SET, frozenset: FROZENSET}[kind]
            return self._pack_ext(code, [self.to_wire(item, depth + 1) for item in value])
        if kind is dict:
            return self._pack_ext(DICT, [[self.to_wire(k, depth + 1), self.to_wire(v, depth + 1)] for k, v in value.items()])
        if kind is np.ndarray and DTYPE_PATTERN.match(value.dtype.str):
            return self._pack_ext(ARRAY, [value.dtype.str, list(value.shape), np.ascontiguousarray(value).tobytes()])
        if isinstance(value, np.generic) and type(value).__module__ == "numpy" and DTYPE_PATTERN.match(value.dtype.str):
            return self._pack_ext(SCALAR, [value.dtype.str, value.tobytes()])
        if isinstance(value, np.dtype) and DTYPE_PATTERN.match(value.str):
            return msgpack.ExtType(DTYPE, value.str.encode())
        if isinstance(value, type):
            return self._type_to_wire(value)
        if kind is complex:
            return self._pack_ext(COMPLEX, [value.real, value.imag])
        if kind is slice:
            return self._pack_ext(SLICE, [self.to_wire(v, depth + 1) for v in (value.start, value.stop, value.step)])
        if kind is range:
            return self._pack_ext(RANGE, [value.start, value.stop, value.step])
        if value is Ellipsis:
            return msgpack.ExtType(ELLIPSIS, b"")
        if kind in (pathlib.PosixPath, pathlib.PurePosixPath):
            return msgpack.ExtType(PATH, str(value).encode())
        if kind is io.BytesIO:
            return msgpack.ExtType(BYTESIO, value.getvalue())
        if kind is np.random.Generator and type(value.bit_generator).__name__ in BIT_GENERATORS:
            state = value.bit_generator.state
            return self._pack_ext(GENERATOR, [type(value.bit_generator).__name__, self.to_wire(state, depth + 1)])
        return self.object_to_wire(value)

    def _type_to_wire(self, value: type):
        if BUILTIN_TYPES.get(value.__name__) is value:
            return msgpack.ExtType(PYTYPE, value.__name__.encode())
        if issubclass(value, np.generic) and value.__module__ == "numpy":
            try:
                code = np.dtype(value).str
            except TypeError:
                code = ""
            if DTYPE_PATTERN.match(code):
                return msgpack.ExtType(NPTYPE, code.encode())
        return self.object_to_wire(value)

    @staticmethod
    def _pack_ext(code: int, document) -> msgpack.ExtType:
        return msgpack.ExtType(code, wire.pack(document, default=None))

    def object_to_wire(self, value):
        raise TypeError(f"a {type(value).__name__} cannot be sent")

    # -- from the wire ----------------------------------------------------------------------
    def ext_to_object(self, code: int, data: bytes):
        raise wire.ProtocolError(f"unexpected value kind {code}")

    def _inner(self, data: bytes):
        return wire.unpack(data, self._from_ext)

    def _from_ext(self, code: int, data: bytes):
        if code == TUPLE:
            return tuple(self._inner(data))
        if code in (SET, FROZENSET):
            items = self._inner(data)
            return set(items) if code == SET else frozenset(items)
        if code == DICT:
            return {key: value for key, value in self._inner(data)}
        if code == ARRAY:
            return self._array(*self._inner(data))
        if code == SCALAR:
            dtype, raw = self._inner(data)
            return self._array(dtype, [], raw)[()]
        if code == DTYPE:
            return np.dtype(_checked_dtype(data.decode()))
        if code == NPTYPE:
            return np.dtype(_checked_dtype(data.decode())).type
        if code == PYTYPE:
            name = data.decode()
            if name not in BUILTIN_TYPES:
                raise wire.ProtocolError(f"unknown builtin type {name!r}")
            return BUILTIN_TYPES[name]
        if code == SLICE:
            return slice(*self._inner(data))
        if code == RANGE:
            start, stop, step = self._inner(data)
            return range(_int(start), _int(stop), _int(step))
        if code == ELLIPSIS:
            return Ellipsis
        if code == COMPLEX:
            real, imag = self._inner(data)
            return complex(float(real), float(imag))
        if code == PATH:
            return pathlib.Path(data.decode())
        if code == BYTESIO:
            return io.BytesIO(data)
        if code == BIGINT:
            text = data.decode()
            if len(text) > 4000 or not re.fullmatch(r"-?\d+", text):
                raise wire.ProtocolError("malformed integer")
            return int(text)
        if code == GENERATOR:
            name, state = self._inner(data)
            if name not in BIT_GENERATORS:
                raise wire.ProtocolError(f"unknown bit generator {name!r}")
            generator = np.random.Generator(getattr(np.random, name)())
            generator.bit_generator.state = state
            return generator
        return self.ext_to_object(code, data)

    def _array(self, dtype: str, shape: list, raw: bytes) -> np.ndarray:
        dtype = np.dtype(_checked_dtype(dtype))
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
            raise wire.ProtocolError("malformed array shape")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(raw):
            raise wire.ProtocolError("array data does not match its shape")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape)
        return array.copy() if self.writable_arrays else array


def _checked_dtype(text: str) -> str:
    if not isinstance(text, str) or not DTYPE_PATTERN.match(text):
        raise wire.ProtocolError(f"dtype {text!r} is not allowed")
    return text


def _int(value) -> int:
    if type(value) is not int:
        raise wire.ProtocolError("expected an integer")
    return value


def describe_exception(error: BaseException, trace: str = "") -> list:
    """An exception as plain data: [module, qualified name, base names, message, traceback]."""
    kind = type(error)
    bases = [f"{k.__module__}.{k.__qualname__}" for k in kind.__mro__]
    return [kind.__module__, kind.__qualname__, bases, str(error)[:20_000], trace[-20_000:]]
