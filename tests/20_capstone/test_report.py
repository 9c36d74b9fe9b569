"""Module 20: the before/after report: ratios, the verdict, JSON and HTML."""

import json

import pytest

from tinytorch.capstone import CapstoneReport, Snapshot, write_report


def _report(final_bytes=250, final_ms=1.0, final_accuracy=0.95):
    return CapstoneReport("demo", [
        Snapshot("baseline", accuracy=0.955, model_bytes=1000, parameters=250, sparsity=0.0, latency_p50_ms=1.0),
        Snapshot("int8", accuracy=final_accuracy, model_bytes=final_bytes, parameters=0, sparsity=0.0,
                 latency_p50_ms=final_ms),
    ])


def test_ratios_compare_the_baseline_with_the_final_stage():
    report = _report(final_bytes=200, final_ms=0.5, final_accuracy=0.945)
    assert report.size_ratio() == pytest.approx(5.0)
    assert report.speedup() == pytest.approx(2.0)
    assert report.accuracy_drop() == pytest.approx(0.01)


def test_smaller_enough_or_faster_enough_meets_the_targets():
    assert _report(final_bytes=250).meets()                              # 4x smaller
    assert _report(final_bytes=900, final_ms=0.4).meets()                # 2.5x faster
    assert not _report(final_bytes=300, final_ms=0.8).meets()            # neither
    assert not _report(final_bytes=100, final_accuracy=0.90).meets()     # 5.5 points lost


def test_to_dict_carries_stages_ratios_and_verdict():
    data = _report().to_dict()
    assert [s["stage"] for s in data["stages"]] == ["baseline", "int8"]
    assert data["size_ratio"] == pytest.approx(4.0) and data["meets_targets"] is True
    assert data["accuracy_drop"] == pytest.approx(0.005)
    json.dumps(data)


def test_write_report_writes_json_and_a_readable_page(tmp_path):
    json_path, html_path = write_report(_report(), tmp_path, name="mlp")
    assert json.loads(json_path.read_text())["model"] == "demo"
    page = html_path.read_text()
    assert "<table>" in page and "baseline" in page and "int8" in page and "4.00x smaller" in page
