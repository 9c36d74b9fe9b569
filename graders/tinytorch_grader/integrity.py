"""Notice when code in the test process replaces the functions grading depends on.

Student code runs inside the pytest process (a test imports it), so it *can* patch NumPy,
pytest, its hooks and report classes, the shared fixtures or the earlier modules. A snapshot
taken before any student code is imported holds the original objects; ``changes()`` lists
every watched name that now points elsewhere, and every hook implementation that was added
from outside the grading tree. The grader scores a group in which anything changed as 0.

This is tamper *evidence* against generic patches, not a proof: code that knows this module
can patch it too (docs/SECURITY.md says which guarantees hold).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from pathlib import Path

WATCHED_PREFIXES = (
    "numpy", "_pytest", "pytest", "pluggy", "pytest_jsonreport", "pytest_timeout", "tinytorch_grader",
    "conftest", "builtins", "math", "json", "unittest.mock",
)
"""Modules (and their submodules) whose functions and classes must not change during a run."""
PRELOADED = ("numpy", "numpy.testing", "numpy.linalg", "numpy.random", "unittest.mock")
"""Imported before the snapshot, so the modules tests compare with are watched even when NumPy
would only import them lazily (after the student's code had a chance to patch them)."""


class Snapshot:
    """The watched objects as they were when the snapshot was taken."""

    def __init__(self, tree: Path, trusted: list[str], pluginmanager) -> None:
        self.tree = Path(tree).resolve()
        self.pluginmanager = pluginmanager
        for name in PRELOADED:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        self.names = [name for name in list(sys.modules) if _watched(name, trusted)]
        self.objects = {}
        self.keys = {}
        for name in self.names:
            module = sys.modules.get(name)
            if isinstance(module, types.ModuleType):
                self.objects.update(_members(name, module))
                self.keys[name] = set(vars(module))
        self.hooks = _hook_implementations(pluginmanager)

    def changes(self) -> list[str]:
        """Watched names that now point to another object, functions added to a watched module (they
        would shadow a builtin in its globals), and hooks added from outside the tree."""
        changed = []
        for key, original in self.objects.items():
            current = _lookup(key)
            if current is not original:
                changed.append(f"{'.'.join(key)} was replaced")
        for name, keys in self.keys.items():
            module = sys.modules.get(name)
            for attr in set(vars(module)) - keys if module is not None else ():
                value = vars(module).get(attr)
                if callable(value) and not isinstance(value, types.ModuleType):
                    changed.append(f"{name}.{attr} was added")
        for hook, impl in _hook_implementations(self.pluginmanager).items() - self.hooks.items():
            if not self._from_tree_conftest(impl):
                changed.append(f"a {hook[0]} hook was added ({getattr(impl, '__qualname__', impl)!r})")
        return changed

    def _from_tree_conftest(self, function) -> bool:
        source = inspect.getsourcefile(function) if inspect.isfunction(function) else None
        return bool(source) and Path(source).name == "conftest.py" and self.tree in Path(source).resolve().parents


def _watched(name: str, trusted: list[str]) -> bool:
    return name in trusted or any(name == p or name.startswith(p + ".") for p in WATCHED_PREFIXES)


def _members(module_name: str, module: types.ModuleType) -> dict[tuple, object]:
    """Functions, classes and submodules of a module, and the attributes of its own classes."""
    members = {}
    for attr, value in list(vars(module).items()):
        if not _is_code(value):
            continue
        members[(module_name, attr)] = value
        if isinstance(value, type) and value.__module__ == module_name:
            for class_attr, class_value in list(vars(value).items()):
                if _is_code(class_value) or isinstance(class_value, (property, staticmethod, classmethod)):
                    members[(module_name, attr, class_attr)] = class_value
    return members


def _is_code(value: object) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


_MISSING = object()


def _lookup(key: tuple) -> object:
    module = sys.modules.get(key[0])
    if module is None:
        return _MISSING
    value = vars(module).get(key[1], _MISSING)
    if len(key) == 3:
        value = vars(value).get(key[2], _MISSING) if isinstance(value, type) else _MISSING
    return value


def _hook_implementations(pluginmanager) -> dict[tuple, object]:
    """(hook name, plugin name, function id) -> function, for every registered implementation."""
    implementations = {}
    for name in dir(pluginmanager.hook):
        caller = getattr(pluginmanager.hook, name, None)
        get = getattr(caller, "get_hookimpls", None)
        if get is None:
            continue
        for impl in get():
            implementations[(name, impl.plugin_name, id(impl.function))] = impl.function
    return implementations
