"""Exceptions of the student's code as the test process sees them, and the grader's own."""

from __future__ import annotations

import builtins


class StudentException(Exception):
    """Base of every exception raised by the student's code, mirrored in the test process.

    The mirrored class also derives from the builtin exception the original derives from
    (ValueError, NotImplementedError, ...), so ``pytest.raises(ValueError)`` works; ``str()`` is the
    original message; ``student_traceback`` is the traceback in the student's process.
    """

    student_type = ""
    student_traceback = ""


class Crashed(Exception):
    """The student's process died, hung or sent garbage; the message says which."""


class Restarted(Exception):
    """An object from a student process that has since been replaced by a fresh one."""


_MIRRORS: dict = {}
PASS_THROUGH = (StopIteration, StopAsyncIteration)


def mirror(description: list) -> BaseException:
    module, name, bases, message, trace = (list(description) + [""] * 5)[:5]
    name = str(name)[:200] or "Exception"
    builtin = Exception
    for base in bases if isinstance(bases, list) else []:
        if isinstance(base, str) and base.startswith("builtins."):
            candidate = getattr(builtins, base[len("builtins."):], None)
            if isinstance(candidate, type) and issubclass(candidate, Exception):
                builtin = candidate
                break
    if builtin in PASS_THROUGH:
        return builtin(str(message))
    key = (str(module)[:200], name, builtin)
    kind = _MIRRORS.get(key)
    if kind is None:
        try:
            kind = type(name.rsplit(".", 1)[-1], (StudentException, builtin), {"__module__": str(module)[:200]})
        except TypeError:  # a builtin that cannot be subclassed together with ours
            kind = type(name.rsplit(".", 1)[-1], (StudentException,), {"__module__": str(module)[:200]})
        _MIRRORS[key] = kind
    try:
        error = kind(str(message))
    except Exception:  # noqa: BLE001 - a builtin whose constructor wants more than a message
        error = kind.__new__(kind)
        Exception.__init__(error, str(message))
    error.student_type = f"{module}.{name}"
    error.student_traceback = str(trace)
    return error
