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
PRELOADED = ("numpy", "numpy.testing", "numpy.linalg", "numpy.random")
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
        self.modules = {name: module for name, module in list(sys.modules.items())
                        if _watched(name, trusted) and isinstance(module, types.ModuleType)}
        self.namespaces = []
        """(label, live namespace, [(attribute, original object)]) per module and per class of it."""
        self.keys = {}
        for name, module in self.modules.items():
            self.namespaces += _namespaces(name, module)
            self.keys[name] = set(vars(module))
        self.hooks = _hook_implementations(pluginmanager)

    def changes(self) -> list[str]:
        """Watched names that now point to another object, functions added to a watched module (they
        would shadow a builtin in its globals), and hooks added from outside the tree."""
        changed = [f"sys.modules[{name!r}] was replaced" for name, module in self.modules.items()
                   if sys.modules.get(name) is not module]
        for label, namespace, members in self.namespaces:
            for attr, original in members:
                if namespace.get(attr, _MISSING) is not original:
                    changed.append(f"{label}.{attr} was replaced")
        for name, keys in self.keys.items():
            namespace = vars(self.modules[name])
            for attr in set(namespace) - keys:
                value = namespace.get(attr)
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


def _namespaces(module_name: str, module: types.ModuleType) -> list[tuple[str, object, list]]:
    """The module's functions, classes and submodules, and the attributes of its own classes."""
    namespace = vars(module)
    found = [(module_name, namespace, [(a, v) for a, v in list(namespace.items()) if _is_code(v)])]
    for attr, value in list(namespace.items()):
        if isinstance(value, type) and value.__module__ == module_name:
            members = [(a, v) for a, v in list(vars(value).items())
                       if _is_code(v) or isinstance(v, (property, staticmethod, classmethod))]
            found.append((f"{module_name}.{attr}", vars(value), members))
    return found


def _is_code(value: object) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


_MISSING = object()


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
