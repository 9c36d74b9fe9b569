"""The student repository's workflow: plain GitHub Actions, visible groups only, reporter runners it can find."""

import re

import pytest
import yaml

from coursetools.release.classroom import WorkflowError, runner_id, visible_groups, workflow_yaml


def test_every_visible_group_is_a_reporter_runner_and_no_hidden_group_appears(course):
    for module in course.released():
        text = workflow_yaml(course, module)
        steps = yaml.safe_load(text)["jobs"]["run-autograding-tests"]["steps"]
        reporter = next(s for s in steps if s.get("uses") == "education/autograding-grading-reporter@v1")
        runners = reporter["with"]["runners"].split(",")
        assert runners == [runner_id(g.name) for g in module.groups if not g.hidden]
        for runner in runners:
            assert re.fullmatch(r"[a-zA-Z0-9]+", runner), "the reporter rejects runner names outside [a-zA-Z0-9]+"
            assert reporter["env"][f"{runner.upper()}_RESULTS"] == "${{ steps.grade.outputs." + runner + " }}"
        for group in module.groups:
            if group.hidden:
                assert group.path not in text and f'"name": "{group.name}"' not in text


def test_the_job_needs_no_classroom_service(course):
    text = workflow_yaml(course, course.module("01"))
    steps = yaml.safe_load(text)["jobs"]["run-autograding-tests"]["steps"]
    assert "github-classroom" not in text and not any("command-grader" in s.get("uses", "") for s in steps)
    grade = next(s for s in steps if s.get("id") == "grade")
    assert "tito --json grade 01" in grade["run"] and "GITHUB_STEP_SUMMARY" in grade["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "results.json" and upload["if"] == "always()"


def test_clashing_runner_ids_are_refused(course):
    module = course.module("01")
    import dataclasses

    twin = dataclasses.replace(module.groups[2], name=module.groups[2].name.replace("_", "-"))
    clone = dataclasses.replace(module, groups=(*module.groups, twin))
    with pytest.raises(WorkflowError, match="same"):
        visible_groups(clone)


def test_skeleton_carries_the_workflow(released_01, course):
    path = released_01["skeleton"] / ".github" / "workflows" / "classroom.yml"
    assert path.read_text() == workflow_yaml(course, course.module("01"))
