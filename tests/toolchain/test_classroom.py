"""The GitHub Classroom workflow: one command-grader step per visible group, with its points."""

import re

from coursetools.classroom import step_id, workflow_yaml


def test_every_visible_group_has_a_step_with_its_points(course):
    for module in course.released():
        text = workflow_yaml(course, module)
        for group in module.groups:
            if group.hidden:
                assert group.path not in text, f"hidden group {group.name} leaked into the workflow"
                continue
            block = text[text.index(f"id: {step_id(group.name)}"):]
            block = block[: block.find("\n    - name:")]
            assert "uses: education/autograding-command-grader@v1" in block
            assert f"command: python -m pytest -q -p no:cacheprovider {group.path}" in block
            assert re.search(rf"max-score: {int(round(group.points))}$", block)


def test_reporter_lists_every_runner(course):
    module = course.module("01")
    text = workflow_yaml(course, module)
    ids = [step_id(g.name) for g in module.groups if not g.hidden]
    assert f"runners: {','.join(ids)}" in text
    for i in ids:
        assert "${{steps." + i + ".outputs.result}}" in text


def test_skeleton_carries_the_workflow(released_01):
    assert (released_01["skeleton"] / ".github" / "workflows" / "classroom.yml").is_file()
