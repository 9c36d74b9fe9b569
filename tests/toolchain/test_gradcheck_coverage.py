"""Every backward rule in tinytorch has a finite-difference check in the hidden tests.

Prints the coverage ("gradcheck coverage: N/N rules"); the checks themselves run as hidden tests.
"""

import importlib.util
import inspect
from pathlib import Path

from tinytorch.core import autograd

ROOT = Path(__file__).resolve().parents[2]


def _cases(relative: str) -> dict:
    spec = importlib.util.spec_from_file_location("_gradcheck_cases_" + Path(relative).stem, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def test_every_autograd_rule_has_a_gradient_check():
    rules = {name for name, cls in inspect.getmembers(autograd, inspect.isclass)
             if issubclass(cls, autograd.Function) and cls is not autograd.Function}
    cases = _cases("hidden_tests/05_autograd/test_hidden_gradcheck.py")
    covered = set(cases) & rules
    print(f"gradcheck coverage: {len(covered)}/{len(rules)} rules of modules 01-04, "
          f"{sum(len(v) for v in cases.values())} cases")
    assert covered == rules, f"rules without a gradient check: {sorted(rules - covered)}"
