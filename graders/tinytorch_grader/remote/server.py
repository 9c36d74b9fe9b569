"""The student's side: ``python -m tinytorch_grader.remote.server FD`` inside the sandbox.

It imports the submission (and the earlier modules it builds on), keeps every object the test
process has a handle to in ``Handles``, and answers requests on the socket ``FD``: import a module,
get or set an attribute, call, apply an operator, make a subclass whose methods call back into the
test process. Whatever this process sends is only data to the test process, so nothing here needs
to be trusted: student code may replace any of it and gain nothing but wrong answers.
"""

from __future__ import annotations

import copy
import importlib
import operator
import os
import socket
import sys
import threading
import traceback
import types

import numpy as np

from tinytorch_grader.remote import codec, wire

OPERATORS = {
    name: getattr(operator, name) for name in (
        "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_", "xor",
        "lshift", "rshift", "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul",
        "neg", "pos", "abs", "invert", "lt", "le", "eq", "ne", "gt", "ge",
        "getitem", "setitem", "delitem", "contains", "index")
}
OPERATORS.update({"len": len, "iter": iter, "next": next, "bool": bool, "float": float, "int": int,
                  "complex": complex, "repr": repr, "str": str, "hash": hash, "format": format,
                  "round": round, "reversed": reversed, "array": np.asarray,
                  "copy": copy.copy, "deepcopy": copy.deepcopy})


class Handles(codec.Codec):
    """The objects the test process holds handles to, by handle id, and how they are encoded."""

    writable_arrays = True

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.sent: dict[int, int] = {}
        self.classes_sent: set[int] = set()
        self.callbacks: dict[int, object] = {}
        self.counter = 0

    def register(self, obj) -> int:
        handle = self.ids.get(id(obj))
        if handle is None or self.objects.get(handle) is not obj:
            self.counter += 1
            handle = self.counter
            self.objects[handle], self.ids[id(obj)] = obj, handle
        return handle

    def object_to_wire(self, obj):
        if type(obj) is TestObject:
            return self._pack_ext(codec.TESTOBJECT, object.__getattribute__(obj, "_tt_key"))
        key = getattr(obj, "_tt_callback_key", None) if type(obj) is types.FunctionType else None
        if type(key) is int:
            return self._pack_ext(codec.CALLBACK, key)
        if isinstance(obj, type):
            return self.class_to_wire(obj)
        handle = self.register(obj)
        self.sent[handle] = self.sent.get(handle, 0) + 1
        return self._pack_ext(codec.HANDLE, [handle, self.class_to_wire(type(obj))])

    def class_to_wire(self, cls: type):
        handle = self.register(cls)
        if handle in self.classes_sent:
            return self._pack_ext(codec.CLASSREF, handle)
        self.classes_sent.add(handle)
        bases = [self.class_to_wire(base) for base in cls.__bases__ if base is not object]
        traits = [name for name, test in TRAITS.items() if test(cls)]
        return self._pack_ext(codec.CLASS, [handle, str(cls.__module__), str(cls.__qualname__), bases,
                                            methods_of(cls), traits])

    def ext_to_object(self, code: int, data: bytes):
        if code in (codec.HANDLE, codec.CLASSREF):
            handle = self._inner(data)
            if handle not in self.objects:
                raise wire.ProtocolError(f"unknown handle {handle!r}")
            return self.objects[handle]
        if code in (codec.CALLBACK, codec.TESTOBJECT):
            key = self._inner(data)
            if key not in self.callbacks:
                make = callback_function if code == codec.CALLBACK else TestObject
                self.callbacks[key] = make(self.server, key)
            return self.callbacks[key]
        return super().ext_to_object(code, data)

    def release(self, pairs: list) -> None:
        for handle, count in pairs:
            left = self.sent.get(handle, 0) - count
            if left > 0:
                self.sent[handle] = left
                continue
            self.sent.pop(handle, None)
            obj = self.objects.get(handle)
            if obj is not None and not isinstance(obj, type):
                del self.objects[handle]
                self.ids.pop(id(obj), None)


TRAITS = {
    "array_ufunc_none": lambda cls: getattr(cls, "__array_ufunc__", 0) is None,
    "module": lambda cls: issubclass(cls, types.ModuleType),
}
"""Facts about a class the test side mirrors: NumPy defers to it, it is a module."""


def methods_of(cls: type) -> list[str]:
    """Names of the plain methods the class defines or inherits (the test side calls them in one
    round trip); dunder names are left out (Python looks them up on the type anyway)."""
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, member in vars(klass).items():
            if isinstance(member, types.FunctionType) and not name.startswith("__"):
                names.add(name)
    return sorted(names)


def callback_function(server: "Server", key: int):
    """A function that runs the test process's callable ``key`` (test code, in the test process)."""

    def call_test_code(*args, **kwargs):
        return server.call_back(key, args, kwargs)

    call_test_code.__name__ = f"callback_{key}"
    call_test_code._tt_callback_key = key
    return call_test_code


class TestObject:
    """An object of the test's (a fake, a generator, a spy): its public attributes, calls,
    iteration, ``len`` and indexing run in the test process."""

    __slots__ = ("_tt_server", "_tt_key")

    def __init__(self, server: "Server", key: int) -> None:
        object.__setattr__(self, "_tt_server", server)
        object.__setattr__(self, "_tt_key", key)

    def _tt(self, op: str, *args):
        return object.__getattribute__(self, "_tt_server").test_op(object.__getattribute__(self, "_tt_key"), op, args)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._tt("getattr", name)

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_tt_server").call_back(object.__getattribute__(self, "_tt_key"), args, kwargs)

    def __iter__(self):
        return self._tt("iter")

    def __next__(self):
        return self._tt("next")

    def __len__(self):
        return self._tt("len")

    def __getitem__(self, key):
        return self._tt("getitem", key)

    def __contains__(self, item):
        return self._tt("contains", item)

    def __repr__(self):
        return "<an object of the test>"


class Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.handles = Handles(self)
        self.next_id = 0
        self.turn = threading.RLock()
        """Who may use the socket: held to read a message, to send one, and for a callback's whole
        round trip, so student threads that call test code at once take turns (re-entrant: the
        test code may call back into this process on the same thread)."""
        self.ops = {
            "ping": lambda: True,
            "import": self.import_module,
            "getattr": getattr,
            "setattr": setattr,
            "delattr": delattr,
            "call": lambda fn, args, kwargs: fn(*args, **kwargs),
            "callmethod": lambda obj, name, args, kwargs: getattr(obj, name)(*args, **kwargs),
            "callmethod_of": lambda cls, name, obj, args, kwargs: getattr(cls, name)(obj, *args, **kwargs),
            "op": lambda name, *args: OPERATORS[name](*args),
            "release": self.release,
            "subclass": self.subclass,
            "new": lambda cls: cls.__new__(cls),
            "id": lambda obj, attribute: id(getattr(obj, attribute) if attribute else obj),
            "environ": self.environ,
            "peak_bytes": peak_bytes,
        }

    def release(self, pairs: list) -> None:
        with self.turn:  # the handle table, which a student thread's callback may be encoding into
            self.handles.release(pairs)

    @staticmethod
    def environ(name: str, value):
        """Set (or, with None, remove) an environment variable of this process; the old value."""
        import os

        old = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)
        return old

    def import_module(self, name: str):
        if not isinstance(name, str) or not (name == "tinytorch" or name.startswith("tinytorch.")):
            raise ImportError(f"only tinytorch modules can be imported, not {name!r}")
        module = importlib.import_module(name)
        origin = os.path.realpath(getattr(module, "__file__", None) or os.getcwd())
        if not origin.startswith(os.path.realpath(os.getcwd()) + os.sep):
            raise ImportError(f"{name} imports from {origin}, not from the submission's tree: an installed "
                              "tinytorch shadows the submission. Uninstall it from the grader's environment.")
        return module

    def subclass(self, name: str, bases: tuple, methods: dict, attributes: dict):
        """A class of the student's side whose methods run test code (a test's ``class Net(Module)``)."""
        namespace = dict(attributes)
        for method_name, callback in methods.items():
            namespace[method_name] = _method(callback)
        namespace["__module__"] = "tests"
        cls = type(name, tuple(bases), namespace)
        handle = self.handles.register(cls)
        self.handles.classes_sent.add(handle)
        return handle

    # -- the message loop -------------------------------------------------------------------
    def serve(self) -> None:
        try:
            self.serve_until(None)
        except (wire.PeerGone, wire.ProtocolError):
            pass

    def serve_until(self, waiting_for: int | None):
        """Answer requests until the reply to our own request ``waiting_for`` arrives."""
        while True:
            with self.turn:
                message = self.handles.decode(wire.receive(self.sock))
            kind, number = message[0], message[1]
            if kind == wire.REQUEST:
                self.answer(number, message[2], message[3:])
            elif number == waiting_for and kind == wire.REPLY:
                return message[2]
            elif number == waiting_for and kind == wire.ERROR:
                raise _mirror(message[2])
            else:
                raise wire.ProtocolError("reply to a request that was not made")

    def answer(self, number: int, op: str, args: list) -> None:
        """Run the request (student code, outside the turn, so its threads can call back), then
        encode and send the reply in one turn (the handle table is shared by all threads)."""
        try:
            value, failure = self.ops[op](*args), None
        except BaseException as error:  # noqa: BLE001 - every failure of student code is an answer
            value, failure = None, self._failure(error)
        with self.turn:
            try:
                payload = self.handles.encode([wire.REPLY, number, value]) if failure is None else None
            except BaseException as error:  # noqa: BLE001 - an unencodable result is an answer too
                failure = self._failure(error)
            if failure is not None:
                payload = self.handles.encode([wire.ERROR, number, failure])
            wire.send(self.sock, payload)

    @staticmethod
    def _failure(error: BaseException) -> list:
        if isinstance(error, (wire.PeerGone, wire.ProtocolError)):
            raise error
        trace = traceback.format_exc().replace(os.getcwd() + os.sep, "")
        return codec.describe_exception(error, trace)

    def call_back(self, key: int, args: tuple, kwargs: dict):
        return self._ask("callback", key, args, kwargs)

    def test_op(self, key: int, op: str, args: tuple):
        return self._ask("testop", key, op, args)

    def _ask(self, *request):
        with self.turn:
            self.next_id -= 1  # our request numbers are negative, the test process's positive
            number = self.next_id
            wire.send(self.sock, self.handles.encode([wire.REQUEST, number, *request]))
            return self.serve_until(number)


def peak_bytes(function, args, kwargs):
    """``function(*args, **kwargs)`` under tracemalloc: [result, peak bytes allocated during it]."""
    import tracemalloc

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = function(*args, **kwargs)
    peak = tracemalloc.get_traced_memory()[1] - base
    if not was_tracing:
        tracemalloc.stop()
    return [result, max(int(peak), 0)]


def _method(callback):
    def method(self, *args, **kwargs):
        return callback(self, *args, **kwargs)

    return method


def _mirror(description: list) -> BaseException:
    """The test code's exception, raised where the student code called it."""
    module, name, bases, message, _ = description
    import builtins

    kind = getattr(builtins, name, None) if module == "builtins" else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(message)
    return RuntimeError(f"{name}: {message}")


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    Server(sock).serve()


if __name__ == "__main__":
    main()
