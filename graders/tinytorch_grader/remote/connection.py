"""The test process's end of one student (or reference) server: requests, callbacks, restarts.

``Connection.request(op, *args)`` sends one request and waits for its reply, answering the
server's callbacks (test code the student's code calls, such as a test's ``forward``) meanwhile.
When the server dies or hangs, the current test fails with a message that says what happened
(exit, signal, the time limit), the server is killed, and the next request starts a fresh one:
one crash costs one test, not the group. While one connection is in use, every other one is
stopped (SIGSTOP), so a student process cannot run while the reference is being timed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import types
import weakref
from dataclasses import dataclass

from tinytorch_grader import sandbox
from tinytorch_grader.remote import codec, errors, wire

OUTPUT_CAP = 64 * 1024
"""Bytes of the server's own output kept (the tail), to show with a crash."""


@dataclass
class Launch:
    """How to start a server: the command (``{fd}`` is replaced), environment, working folder,
    and the sandbox uid it runs as (None: our own)."""

    command: list
    env: dict
    cwd: str
    uid: int | None = None
    spawn: object = None
    """Optional ``spawn(command, cwd=, env=, pass_fds=) -> Popen`` (the sandbox); else plain Popen."""


class Connection(codec.Codec):
    writable_arrays = False
    live: "list[Connection]" = []
    active: "Connection | None" = None

    def __init__(self, name: str, launch: Launch, timeout: float = 600.0) -> None:
        self.name, self.launch, self.timeout = name, launch, timeout
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.generation = 0
        self.next_id = 0
        self.depth = 0
        self.deferred: BaseException | None = None
        self.output = bytearray()
        self.class_by_key: dict = {}
        self._reset_generation()

    def _reset_generation(self) -> None:
        self.proxies: dict[int, weakref.ref] = {}
        self.classes: dict[int, type] = {}
        self.class_handles: dict[type, int] = {}
        self.module_handles: dict[str, int] = {}
        self.callbacks: dict[int, object] = {}
        self.callback_ids: dict[int, int] = {}
        self.released: list = []
        self._keep: list = []
        self.__dict__.pop("_modules", None)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        ours, theirs = socket.socketpair()
        command = [str(part).replace("{fd}", str(theirs.fileno())) for part in self.launch.command]
        spawn = self.launch.spawn or _plain_spawn
        self.process = spawn(command, cwd=self.launch.cwd, env=self.launch.env, pass_fds=(theirs.fileno(),))
        theirs.close()
        self.sock = ours
        self.generation += 1
        self._reset_generation()
        self.output = bytearray()
        if self.process.stdout is not None:
            threading.Thread(target=self._drain, args=(self.process.stdout, self.output), daemon=True).start()
        Connection.live.append(self)  # no hand-shake: the first request waits in the socket while it starts

    @staticmethod
    def _drain(stream, sink: bytearray) -> None:
        with stream:
            for chunk in iter(lambda: stream.read1(65536), b""):
                sink.extend(chunk)
                if len(sink) > OUTPUT_CAP:
                    del sink[: len(sink) - OUTPUT_CAP]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and self.sock is not None

    def close(self) -> None:
        """Kill the server and everything it started."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.process is not None:
            _kill_group(self.process.pid, signal.SIGCONT)
            _kill_group(self.process.pid, signal.SIGKILL)
            if self.launch.uid is not None:
                sandbox.thaw(self.launch.uid)
                sandbox._kill_uid(self.launch.uid, signal.SIGKILL)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self in Connection.live:
            Connection.live.remove(self)
        if Connection.active is self:
            Connection.active = None

    def output_tail(self, size: int = 2000) -> str:
        return bytes(self.output[-size:]).decode("utf-8", "replace")

    # -- requests -----------------------------------------------------------------------------
    def request(self, op: str, *args):
        __tracebackhide__ = True
        if not self.alive:
            if self.process is not None:
                self.close()
            self.start()
        self._activate()
        self.next_id += 1
        number = self.next_id
        self.depth += 1
        try:
            pending, self.released = self.released, []
            if pending and op != "release":
                self._send([wire.REQUEST, self.next_id + 10**9, "release", pending], expect_reply=True)
            self._send([wire.REQUEST, number, op, *args])
            result = self._serve_until(number)
        except BaseException as error:
            if not isinstance(error, (errors.StudentException, StopIteration, TypeError, ValueError, errors.Restarted)):
                self._fail(error)
            raise
        finally:
            self.depth -= 1
        if self.depth == 0 and self.deferred is not None:
            deferred, self.deferred = self.deferred, None
            raise deferred
        return result

    def _send(self, message: list, expect_reply: bool = False) -> None:
        try:
            wire.send(self.sock, self.encode(message))
        except wire.PeerGone:
            raise errors.Crashed(self._death_message()) from None
        if expect_reply:
            self._serve_until(message[1])

    def _serve_until(self, number: int):
        __tracebackhide__ = True
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                message = self.decode(wire.receive(self.sock, deadline))
            except wire.PeerGone:
                raise errors.Crashed(self._death_message()) from None
            except wire.PeerTimeout:
                raise errors.Crashed(f"your code did not answer within {self.timeout:.0f} s "
                                     "(an infinite loop?), so its process was stopped") from None
            except wire.ProtocolError as error:
                raise errors.Crashed(f"your code's process sent an invalid message ({error})") from None
            kind, ident = message[0], message[1]
            if kind == wire.REQUEST and message[2] in ("callback", "testop"):
                self._answer_callback(ident, message[2], *message[3:])
            elif ident == number and kind == wire.REPLY:
                return message[2]
            elif ident == number and kind == wire.ERROR:
                raise errors.mirror(message[2])
            else:
                raise errors.Crashed("your code's process answered a request that was not made")

    def _answer_callback(self, ident: int, kind: str, key: int, *request) -> None:
        target = self.callbacks.get(key)
        try:
            if target is None:
                raise LookupError(f"unknown callback {key}")
            if kind == "callback":
                args, kwargs = request
                value = target(*args, **kwargs)
            else:
                value = test_object_op(target, *request)
            reply = [wire.REPLY, ident, value]
            payload = self.encode(reply)
        except BaseException as error:  # noqa: BLE001 - test code failing inside a callback
            if isinstance(error, AssertionError) or not isinstance(error, Exception):
                self.deferred = self.deferred or error  # a failed assertion stays a failure
            if isinstance(error, errors.Crashed):
                raise
            payload = self.encode([wire.ERROR, ident, codec.describe_exception(error)])
        wire.send(self.sock, payload)

    def _death_message(self) -> str:
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        tail = self.output_tail()
        shown = f"\nIt printed last:\n{tail}" if tail.strip() else ""
        if code is None:
            return "your code's process closed its connection to the grader" + shown
        if code < 0:
            number = -code
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            reason = SIGNAL_REASONS.get(name, "it was stopped by a signal")
            return f"your code's process was killed by {name}: {reason}" + shown
        return f"your code's process exited with status {code} (did your code call exit()?)" + shown

    def _fail(self, error: BaseException) -> None:
        """After a crash, a hang or an interrupted request the server's state is unknown: kill it."""
        self.close()

    def _activate(self) -> None:
        """Stop the other servers while this one works, so they cannot disturb its timing."""
        if Connection.active is self:
            return
        for other in Connection.live:
            if other is not self and other.process is not None:
                sandbox.freeze(other.launch.uid, other.process.pid)
        if self.process is not None:
            sandbox.thaw(self.launch.uid, self.process.pid)
        Connection.active = self

    # -- handles --------------------------------------------------------------------------------
    def callback(self, function) -> int:
        key = self.callback_ids.get(id(function))
        if key is None or self.callbacks.get(key) is not function:
            key = len(self.callbacks) + 1
            self.callbacks[key], self.callback_ids[id(function)] = function, key
        return key

    def forget(self, handle: int, generation: int, seen: int) -> None:
        """A proxy was garbage-collected: tell the server with the next request."""
        if generation == self.generation:
            self.released.append([handle, seen])

    # codec hooks live in proxy.py (they need the proxy classes); installed by proxy.bind()


def test_object_op(target, op: str, args: list):
    """What the student's code may do with an object of the test: public attributes, iteration,
    ``len``, indexing, membership (``server.TestObject``)."""
    if op == "getattr":
        (name,) = args
        if not isinstance(name, str) or name.startswith("_"):
            raise AttributeError(name)
        return getattr(target, name)
    if op == "iter":
        return iter(target)
    if op == "next":
        return next(target)
    if op == "len":
        return len(target)
    if op == "getitem":
        return target[args[0]]
    if op == "contains":
        return args[0] in target
    raise LookupError(f"unknown operation {op!r} on an object of the test")


SIGNAL_REASONS = {
    "SIGKILL": "the grader did not send it; the kernel does when memory runs out, or another program on the machine did",
    "SIGXCPU": "it used up its CPU-time limit",
    "SIGXFSZ": "it wrote a file larger than the limit",
    "SIGSEGV": "a segmentation fault (a crash inside a compiled library)",
    "SIGABRT": "it aborted (a failed check inside a compiled library)",
}


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _plain_spawn(command, *, cwd, env, pass_fds):
    return subprocess.Popen(command, cwd=cwd, env=env, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _object_to_wire(self: Connection, value):
    """Our side of a request: proxies become handles, test callables become callbacks."""
    from tinytorch_grader.remote import proxy

    if isinstance(value, (proxy.RemoteObject, proxy.RemoteModule, proxy.RemoteClass)):
        owner = value._tt_cconn if isinstance(value, proxy.RemoteClass) else value._tt_conn
        if owner is not self:
            raise TypeError("an object of one process of your code cannot be passed to another "
                            "(the student's and the reference's objects do not mix)")
        return self._pack_ext(codec.HANDLE, self.handle_of(value))
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return self._pack_ext(codec.CALLBACK, self.callback(value))
    if isinstance(value, types.ModuleType):
        raise TypeError(f"the test's module {value.__name__} cannot be sent to your code")
    return self._pack_ext(codec.TESTOBJECT, self.callback(value))


def _ext_to_object(self: Connection, code: int, data: bytes):
    from tinytorch_grader.remote import proxy

    if code == codec.HANDLE:
        handle, cls = self._inner(data)
        if not isinstance(handle, int) or not isinstance(cls, proxy.RemoteClass):
            raise wire.ProtocolError("malformed handle")
        ref = self.proxies.get(handle)
        obj = ref() if ref is not None else None
        if obj is None or type(obj) is not cls:
            obj = proxy.wrap(cls, self, handle)
            self.proxies[handle] = weakref.ref(obj)
        object.__setattr__(obj, "_tt_seen", obj._tt_seen + 1)
        return obj
    if code in (codec.CALLBACK, codec.TESTOBJECT):
        key = self._inner(data)
        if key not in self.callbacks:
            raise wire.ProtocolError("reference to a callback never sent")
        return self.callbacks[key]
    if code == codec.CLASSREF:
        handle = self._inner(data)
        if handle not in self.classes:
            raise wire.ProtocolError("reference to a class never described")
        return self.classes[handle]
    if code == codec.CLASS:
        handle, module, qualname, bases, methods, traits = self._inner(data)
        if not (isinstance(module, str) and isinstance(qualname, str) and isinstance(methods, list)
                and all(isinstance(m, str) and m.isidentifier() for m in methods)):
            raise wire.ProtocolError("malformed class description")
        key = (module, qualname) if "<locals>" not in qualname else (module, qualname, self.generation, handle)
        cls = self.class_by_key.get(key)
        if cls is None:
            cls = proxy.mirror_class(self, module, qualname, bases, methods, traits)
            self.class_by_key[key] = cls
        self.classes[handle], self.class_handles[cls] = cls, handle
        return cls
    return codec.Codec.ext_to_object(self, code, data)


def _handle_of(self: Connection, value) -> int:
    """The server's handle for a proxy, module or class, resolved again after a restart where
    it can be (modules, classes, and what was fetched from a module by name)."""
    from tinytorch_grader.remote import proxy

    if isinstance(value, proxy.RemoteModule):
        return self.module_handle(value.__name__)
    if isinstance(value, proxy.RemoteClass):
        handle = self.class_handles.get(value)
        if handle is None:
            handle = self._resolve_class(value)
        return handle
    if value._tt_generation == self.generation:
        return value._tt_handle
    if value._tt_path is None:
        raise proxy.restarted(value)
    module, name = value._tt_path
    fresh = self.request("getattr", self.module_ref(module), name)
    object.__setattr__(value, "_tt_handle", fresh._tt_handle)
    object.__setattr__(value, "_tt_generation", self.generation)
    return value._tt_handle


def _resolve_class(self: Connection, cls) -> int:
    from tinytorch_grader.remote import proxy

    if cls.__dict__.get("_tt_local", False):
        bases = tuple(b for b in cls.__bases__ if isinstance(b, proxy.RemoteClass))
        methods = {name: member for name, member in vars(cls).items()
                   if isinstance(member, types.FunctionType) and not name.startswith("_tt_")}
        attributes = {name: member for name, member in vars(cls).items()
                      if type(member) in (bool, int, float, str) and not name.startswith("__")}
        handle = self.request("subclass", cls.__name__, bases, methods, attributes)
        self.classes[handle], self.class_handles[cls] = cls, handle
        return handle
    module, qualname = cls._tt_key[:2]
    target = self.module_ref(module)
    for part in qualname.split("."):
        target = self.request("getattr", target, part)
    if not isinstance(target, type) or self.class_handles.get(cls) is None:
        raise errors.Crashed(f"your code no longer has the class {module}.{qualname}")
    return self.class_handles[cls]


def _module_handle(self: Connection, name: str) -> int:
    handle = self.module_handles.get(name)
    if handle is None:
        module = self.request("import", name)
        handle = module._tt_handle
        self.module_handles[name] = handle
        self._keep.append(module)
    return handle


def _module_ref(self: Connection, name: str):
    """A module proxy for requests (the one in sys.modules for the student, else our own)."""
    return self.module(name)


def _module(self: Connection, name: str):
    from tinytorch_grader.remote import proxy

    modules = self.__dict__.setdefault("_modules", {})
    if name not in modules:
        modules[name] = proxy.RemoteModule(name, self)
        self.module_handle(name)
    return modules[name]


Connection.object_to_wire = _object_to_wire
Connection.ext_to_object = _ext_to_object
Connection.handle_of = _handle_of
Connection._resolve_class = _resolve_class
Connection.module_handle = _module_handle
Connection.module_ref = _module_ref
Connection.module = _module
