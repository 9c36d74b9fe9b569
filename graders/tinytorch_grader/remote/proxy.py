"""What a test holds of the student's code: proxies that forward every use to its process.

- ``RemoteObject``: an object of the student's code. Attribute access, calls, operators, indexing,
  ``len``, iteration, ``__array__``, ``float()`` and context managers are requests; the answers are
  values (``codec``) or more proxies. Two things are refused on purpose, because the student's code
  would decide them: the truth value of a proxy and a comparison whose answer is a plain bool.
- ``RemoteClass``: the metaclass of proxy classes. A proxy class mirrors one class of the student's
  code (same name and bases), so ``isinstance`` works; calling it constructs on the student side.
  A test's own subclass (``class Net(Module)``) lives here: its methods run in the test process and
  the student's side gets a subclass whose methods call back.
- ``RemoteModule``: a module of the student's code; ``Finder`` puts one in ``sys.modules`` for every
  ``tinytorch`` import of the test process.
"""

from __future__ import annotations

import collections.abc
import importlib.abc
import importlib.machinery
import sys
import types

from tinytorch_grader.remote import errors

PROBES = frozenset({"__test__", "pytestmark", "_pytestfixturefunction", "_fixture_function_marker",
                    "__wrapped__", "__signature__", "__code__", "_is_coroutine_marker", "__origin__",
                    "__args__", "__parameters__", "__getstate__", "__reduce_ex__", "__reduce__",
                    "__length_hint__", "__fspath__", "__array_interface__", "__array_struct__",
                    "__array_priority__", "__array_function__", "__iter__", "__next__", "__len__"})
"""Attributes that introspection (pytest, NumPy, copy) asks for: answered here, not by the student."""


class TrustError(TypeError):
    """A test asked the student's code to decide something only the test may decide."""


def _request(obj, op, *args):
    __tracebackhide__ = True  # pytest shows the test's line, not the proxy's
    return obj._tt_conn.request(op, *args)


class RemoteObject:
    """An object that lives in the student's process (see the module docstring)."""

    __slots__ = ("_tt_conn", "_tt_handle", "_tt_generation", "_tt_seen", "_tt_path", "__weakref__")

    def __getattr__(self, name):
        if name.startswith("_tt_") or name in PROBES or name.startswith("_pytest"):
            raise AttributeError(name)
        return _request(self, "getattr", self, name)

    def __setattr__(self, name, value):
        if name.startswith("_tt_"):
            object.__setattr__(self, name, value)
        else:
            _request(self, "setattr", self, name, value)

    def __delattr__(self, name):
        __tracebackhide__ = True
        _request(self, "delattr", self, name)

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True
        return _request(self, "call", self, args, kwargs)

    def __bool__(self):
        raise TrustError(f"the truth value of a {type(self).__name__} of your code is not used in grading: "
                         "the test must compare a value (for example .data, .shape or .item())")

    def __eq__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "eq", other)

    def __ne__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "ne", other)

    def __lt__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "lt", other)

    def __le__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "le", other)

    def __gt__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "gt", other)

    def __ge__(self, other):
        __tracebackhide__ = True
        return _comparison(self, "ge", other)

    __hash__ = object.__hash__

    def __repr__(self):
        try:
            text = _request(self, "op", "repr", self)
        except Exception:  # noqa: BLE001 - a repr must never fail inside a failure message
            text = None
        label = f"{type(self).__module__}.{type(self).__qualname__}"
        return text[:2000] if isinstance(text, str) else f"<{label} of your code>"

    def __str__(self):
        __tracebackhide__ = True
        text = _request(self, "op", "str", self)
        return text if isinstance(text, str) else repr(self)

    def __format__(self, spec):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "format", self, spec), str, "format()")

    def __float__(self):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "float", self), float, "float()")

    def __int__(self):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "int", self), int, "int()")

    def __index__(self):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "index", self), int, "index()")

    def __complex__(self):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "complex", self), complex, "complex()")

    def __len__(self):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "len", self), int, "len()")

    def __iter__(self):
        __tracebackhide__ = True
        return _request(self, "op", "iter", self)

    def __next__(self):
        __tracebackhide__ = True
        return _request(self, "op", "next", self)

    def __getitem__(self, key):
        __tracebackhide__ = True
        return _request(self, "op", "getitem", self, key)

    def __setitem__(self, key, value):
        __tracebackhide__ = True
        _request(self, "op", "setitem", self, key, value)

    def __delitem__(self, key):
        __tracebackhide__ = True
        _request(self, "op", "delitem", self, key)

    def __contains__(self, item):
        __tracebackhide__ = True
        return _typed(_request(self, "op", "contains", self, item), bool, "in")

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        array = _request(self, "op", "array", self)
        if type(array) is not np.ndarray:
            raise TrustError(f"np.asarray() of your {type(self).__name__} did not give an array")
        return array.astype(dtype) if dtype is not None else array

    def __enter__(self):
        __tracebackhide__ = True
        return _request(self, "callmethod", self, "__enter__", (), {})

    def __exit__(self, *exc_info):
        __tracebackhide__ = True
        return _request(self, "callmethod", self, "__exit__", (None, None, None), {})

    def __copy__(self):
        __tracebackhide__ = True
        return _request(self, "op", "copy", self)

    def __deepcopy__(self, memo):
        __tracebackhide__ = True
        return _request(self, "op", "deepcopy", self)

    def __reduce_ex__(self, protocol):
        raise TypeError(f"a {type(self).__name__} of your code cannot be pickled by the test")

    def __del__(self):
        try:
            self._tt_conn.forget(self._tt_handle, self._tt_generation, self._tt_seen)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _typed(value, kind, what):
    if type(value) is not kind:
        raise TrustError(f"{what} of an object of your code must give a {kind.__name__}, not {type(value).__name__}")
    return value


def _comparison(obj, op, other):
    __tracebackhide__ = True
    result = _request(obj, "op", op, obj, other)
    if type(result) is bool:
        raise TrustError(f"a comparison of an object of your code ({type(obj).__name__} {op} ...) answered by "
                         "your code is not used in grading: the test must compare values")
    return result


def _binary(name):
    def forward(self, other):
        __tracebackhide__ = True
        return _request(self, "op", name, self, other)

    def reflected(self, other):
        __tracebackhide__ = True
        return _request(self, "op", name, other, self)

    return forward, reflected


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op = _name + "_" if _name in ("and", "or") else _name
    _forward, _reflected = _binary(_op)
    setattr(RemoteObject, f"__{_name}__", _forward)
    setattr(RemoteObject, f"__r{_name}__", _reflected)
    if _name not in ("and", "or", "xor", "lshift", "rshift"):
        setattr(RemoteObject, f"__i{_name}__", _binary("i" + _op)[0])
def _unary(name):
    def apply(self):
        __tracebackhide__ = True
        return _request(self, "op", name, self)

    return apply


for _name in ("neg", "pos", "abs", "invert"):
    setattr(RemoteObject, f"__{_name}__", _unary(_name))
RemoteObject.__round__ = lambda self, *digits: _request(self, "op", "round", self, *digits)


class NumpyDefers(RemoteObject):
    """Proxy base for classes that set ``__array_ufunc__ = None`` (``ndarray + Tensor`` calls
    ``Tensor.__radd__``, as in the student's process)."""

    __slots__ = ()
    __array_ufunc__ = None


class RemoteClass(type):
    """Metaclass of proxy classes (mirrors of the student's classes) and of tests' subclasses."""

    def __new__(mcls, name, bases, namespace, **kwargs):
        namespace.setdefault("__slots__", ())
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if "_tt_cconn" not in namespace:  # a test's own subclass
            type.__setattr__(cls, "_tt_local", True)
            type.__setattr__(cls, "_tt_cconn", next(b._tt_cconn for b in bases if isinstance(b, RemoteClass)))
        return cls

    def __call__(cls, *args, **kwargs):
        __tracebackhide__ = True
        if not cls.__dict__.get("_tt_local", False):
            return cls._tt_cconn.request("call", cls, args, kwargs)
        obj = cls._tt_cconn.request("new", cls)
        cls.__init__(obj, *args, **kwargs)
        return obj

    def __getattr__(cls, name):
        if name.startswith("_tt_") or name in PROBES or name.startswith("_pytest") or name.startswith("__"):
            raise AttributeError(name)
        return cls._tt_cconn.request("getattr", cls, name)

    def __setattr__(cls, name, value):
        if name.startswith("_tt_") or name.startswith("__") or cls.__dict__.get("_tt_local", False):
            type.__setattr__(cls, name, value)
        else:
            cls._tt_cconn.request("setattr", cls, name, value)

    def __delattr__(cls, name):
        if cls.__dict__.get("_tt_local", False) or name.startswith("__"):
            type.__delattr__(cls, name)
        else:
            cls._tt_cconn.request("delattr", cls, name)

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__qualname__}'>"


def mirror_class(conn, module: str, qualname: str, bases: list, methods: list, traits: list) -> type:
    """The proxy class of one of the student's classes."""
    base_classes = tuple(b for b in bases if isinstance(b, RemoteClass))
    if not base_classes:
        base_classes = (NumpyDefers,) if "array_ufunc_none" in traits else (RemoteObject,)
    elif "array_ufunc_none" in traits and not any(issubclass(b, NumpyDefers) for b in base_classes):
        base_classes = base_classes + (NumpyDefers,)
    namespace = {"_tt_cconn": conn, "_tt_key": (module, qualname), "__module__": module,
                 "__qualname__": qualname, "__init__": _remote_init(), "_tt_module_class": "module" in traits}
    for name in methods:
        namespace[name] = _remote_method(name)
    try:
        cls = RemoteClass(qualname.rsplit(".", 1)[-1], base_classes, namespace)
    except TypeError:  # an MRO Python cannot build from the mirrored bases
        cls = RemoteClass(qualname.rsplit(".", 1)[-1], (RemoteObject,), namespace)
    for name in ["__init__", *methods]:
        function = cls.__dict__[name]
        function.__qualname__ = f"{qualname}.{name}"
        function._tt_owner = cls
    return cls


def _remote_init():
    def __init__(self, *args, **kwargs):
        __tracebackhide__ = True
        self._tt_conn.request("callmethod_of", __init__._tt_owner, "__init__", self, args, kwargs)

    return __init__


def _remote_method(name):
    """``obj.name(...)`` in one round trip: the student's ``Owner.name(obj, ...)``."""

    def method(self, *args, **kwargs):
        __tracebackhide__ = True
        return self._tt_conn.request("callmethod_of", method._tt_owner, name, self, args, kwargs)

    method.__name__ = name
    return method


def wrap(cls: type, conn, handle: int) -> RemoteObject:
    obj = object.__new__(cls)
    for attr, value in (("_tt_conn", conn), ("_tt_handle", handle), ("_tt_generation", conn.generation),
                        ("_tt_seen", 0), ("_tt_path", None)):
        object.__setattr__(obj, attr, value)
    return obj


class RemoteModule(types.ModuleType):
    """A module of the student's code: its attributes are fetched from the student's process."""

    def __init__(self, name: str, conn) -> None:
        super().__init__(name)
        object.__setattr__(self, "_tt_conn", conn)
        object.__setattr__(self, "__path__", [])

    def __getattribute__(self, name):
        if name == "__dict__":  # what monkeypatch reads to restore an attribute: the student's too
            return ModuleNamespace(self, object.__getattribute__(self, "__dict__"))
        return object.__getattribute__(self, name)

    def __getattr__(self, name):
        __tracebackhide__ = True
        if name.startswith("__") or name.startswith("_tt_") or name in PROBES:
            raise AttributeError(name)
        value = self._tt_conn.request("getattr", self, name)
        if getattr(type(value), "_tt_module_class", False):
            real = value.__name__  # a module the student's module holds: tinytorch's own, or e.g. time
            if real == "tinytorch" or real.startswith("tinytorch."):
                return importlib.import_module(real) if self._tt_conn.name == "student" else self._tt_conn.module(real)
            return value
        if isinstance(value, RemoteObject) and value._tt_path is None:
            object.__setattr__(value, "_tt_path", (self.__name__, name))
        return value

    def __setattr__(self, name, value):
        if name.startswith("__") or isinstance(value, RemoteModule):
            object.__setattr__(self, name, value)
        else:
            self._tt_conn.request("setattr", self, name, value)

    def __delattr__(self, name):
        if name.startswith("__") or isinstance(self.__dict__.get(name), RemoteModule):
            object.__delattr__(self, name)
        else:
            self._tt_conn.request("delattr", self, name)

    def __repr__(self):
        __tracebackhide__ = True
        return f"<module '{self.__name__}' of your code>"


class ModuleNamespace(collections.abc.Mapping):
    """A RemoteModule's ``__dict__``: its own entries, then the student module's attributes."""

    def __init__(self, module: RemoteModule, local: dict) -> None:
        self.module, self.local = module, local

    def __getitem__(self, name):
        if name in self.local:
            return self.local[name]
        try:
            return getattr(self.module, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self):
        __tracebackhide__ = True
        return iter(self.local)

    def __len__(self):
        __tracebackhide__ = True
        return len(self.local)


class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import tinytorch...`` in the test process gives modules of the student's process."""

    def __init__(self, conn, package: str = "tinytorch") -> None:
        self.conn, self.package = conn, package

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.package or fullname.startswith(self.package + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return RemoteModule(spec.name, self.conn)

    def exec_module(self, module):
        self.conn.module_handle(module.__name__)  # ImportError (mirrored) when it does not import


def install(conn) -> Finder:
    for name in [n for n in sys.modules if n == "tinytorch" or n.startswith("tinytorch.")]:
        del sys.modules[name]
    finder = Finder(conn)
    sys.meta_path.insert(0, finder)
    return finder


def restarted(obj) -> errors.Restarted:
    return errors.Restarted(f"this {type(obj).__name__} was made by your code's process before it was restarted "
                            "(after a crash or a time-out in an earlier test)")
