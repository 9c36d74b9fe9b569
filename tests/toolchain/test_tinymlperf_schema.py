"""Module 19's submission schema is real JSON Schema: a maintained validator agrees with the module's own checker."""

import copy

import jsonschema
import numpy as np
import pytest

from tinytorch.bench import SUBMISSION_SCHEMA, EventData, run_event, validate_submission
from tinytorch.core.layers import Linear


@pytest.fixture(scope="module")
def submission():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    model = Linear(784, 10, rng=rng)
    return run_event("mlp_sprint", model, data=EventData(x, model(x).data.argmax(-1)))


def test_the_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SUBMISSION_SCHEMA)


def test_a_real_submission_passes_both_validators(submission):
    jsonschema.validate(submission, SUBMISSION_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert validate_submission(submission) == []


BREAKAGES = [
    lambda s: s.pop("latency_ms"),
    lambda s: s["quality"].update(value=1.2),
    lambda s: s.update(event="sprint"),
    lambda s: s["memory"].update(model_bytes=-5),
    lambda s: s["throughput"].update(batch_size=2.5),
    lambda s: s["system"].pop("numpy"),
    lambda s: s.update(valid="yes"),
    lambda s: s["model"].update(parameters=True),
]


@pytest.mark.parametrize("breakage", range(len(BREAKAGES)))
def test_both_validators_reject_the_same_broken_submissions(submission, breakage):
    broken = copy.deepcopy(submission)
    BREAKAGES[breakage](broken)
    assert validate_submission(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SUBMISSION_SCHEMA, cls=jsonschema.Draft202012Validator)
