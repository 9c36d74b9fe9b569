"""Module 20: capstone, one model taken through the whole optimization pipeline, measured at every stage.

profile -> remove channels (optional, with fine-tuning) -> quantize to int8 -> measure again, and write a
before/after report (JSON for machines, one self-contained HTML page for people). Every figure
in the report is measured in the run: accuracy on held-out data, bytes stored, parameters,
sparsity, single-sample latency. A language model also gets its generation speed with and
without the KV-cache.

The goal is a trade you can defend: e.g. >= 4x smaller or >= 2x faster while losing at most
one point of accuracy. ``CapstoneReport.meets`` checks exactly that.

Systems point: optimizations compose but do not add up. Int8 storage shrinks the bytes 4x but
NumPy has no int8 GEMM, so time may not drop; pruning saves bytes and FLOPs only when whole
channels go (zeros in a dense array cost the same); the cache speeds up generation, not a
single forward pass. Measure after every step.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tinytorch.bench import predict
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import PRUNABLE, prune_channels, prunable_weights
from tinytorch.perf.profiling import count_parameters, measure_latency, model_bytes, named_layers, profile_model
from tinytorch.perf.quantization import QuantizedLayer, quantize_model


@dataclass(frozen=True)
class Snapshot:
    """What one stage of the pipeline measured."""

    stage: str
    accuracy: float
    model_bytes: int
    parameters: int
    sparsity: float
    latency_p50_ms: float


@dataclass
class CapstoneReport:
    """Stages in pipeline order (the first is the baseline), plus what else was measured."""

    model_name: str
    stages: list[Snapshot]
    profile_table: str = ""
    generation: dict = field(default_factory=dict)

    @property
    def baseline(self) -> Snapshot:
        return self.stages[0]

    @property
    def final(self) -> Snapshot:
        return self.stages[-1]

    def size_ratio(self) -> float:
        """Baseline bytes / final bytes (4.0 means four times smaller)."""
        #% solution
        return self.baseline.model_bytes / self.final.model_bytes
        #% endsolution

    def speedup(self) -> float:
        """Baseline latency / final latency (2.0 means twice as fast)."""
        #% solution
        return self.baseline.latency_p50_ms / self.final.latency_p50_ms
        #% endsolution

    def accuracy_drop(self) -> float:
        """Accuracy lost from baseline to final, as a fraction (0.01 = one point); negative if it improved."""
        #% solution
        return self.baseline.accuracy - self.final.accuracy
        #% endsolution

    def meets(self, min_speedup: float = 2.0, min_size_ratio: float = 4.0, max_accuracy_drop: float = 0.01) -> bool:
        """True when the final model is min_speedup x faster OR min_size_ratio x smaller, losing at most max_accuracy_drop."""
        #% solution hint="(speedup() >= min_speedup or size_ratio() >= min_size_ratio) and accuracy_drop() <= max_accuracy_drop."
        faster_or_smaller = self.speedup() >= min_speedup or self.size_ratio() >= min_size_ratio
        return faster_or_smaller and self.accuracy_drop() <= max_accuracy_drop + 1e-9  # 0.90 - 0.89 > 0.01 in floats
        #% endsolution

    def to_dict(self) -> dict:
        """Everything as JSON-ready data: stages, the three ratios, the verdict, generation speeds."""
        #% solution hint="model, stages (asdict of each), size_ratio, speedup, accuracy_drop, meets_targets (meets()), generation, profile_table."
        return {
            "model": self.model_name,
            "stages": [asdict(stage) for stage in self.stages],
            "size_ratio": self.size_ratio(),
            "speedup": self.speedup(),
            "accuracy_drop": self.accuracy_drop(),
            "meets_targets": self.meets(),
            "generation": self.generation,
            "profile_table": self.profile_table,
        }
        #% endsolution

    def to_html(self) -> str:
        """One self-contained page: the verdict, a table of stages with bars, the baseline's profile."""
        return render_html(self)


# ---------------------------------------------------------------------- measuring a stage
def snapshot(stage: str, model, inputs: np.ndarray, targets: np.ndarray, batch_size: int = 100,
             latency_repeats: int = 30) -> Snapshot:
    """Measure ``model``: accuracy on (inputs, targets), bytes, parameters, sparsity, batch-1 latency (p50 ms)."""
    #% solution hint="accuracy = mean(predict(model, inputs, batch_size) == targets); latency = measure_latency(predict, model, inputs[:1], 1, warmup=3, repeats=latency_repeats).p50_ms; count_parameters counts trainable floats only, so a quantized model reports fewer."
    accuracy = float(np.mean(predict(model, inputs, batch_size) == targets))
    latency = measure_latency(predict, model, inputs[:1], 1, warmup=3, repeats=latency_repeats).p50_ms
    return Snapshot(stage=stage, accuracy=accuracy, model_bytes=model_bytes(model),
                    parameters=count_parameters(model), sparsity=weight_sparsity(model),
                    latency_p50_ms=latency)
    #% endsolution


def weight_sparsity(model) -> float:
    """Fraction of weights that are exactly zero, float or int8 alike (0.0 for a model without weights).

    Counts the float weights of every Linear/Conv2d and the int8 weights of every quantized layer:
    a pruned weight quantizes to the zero point, so the int8 stage keeps the sparsity it was given.
    """
    zeros, total = 0, 0
    for _, weight in prunable_weights(model):
        zeros, total = zeros + int(np.count_nonzero(weight.data == 0)), total + weight.data.size
    for _, layer in named_layers(model):
        if isinstance(layer, QuantizedLayer):
            q = layer.weight.q
            zeros += int(np.count_nonzero(q == np.asarray(layer.weight.zero_point)))
            total += q.size
    return zeros / total if total else 0.0


# ---------------------------------------------------------------------- the pipeline
def optimize(model, eval_data: tuple[np.ndarray, np.ndarray], calibration: np.ndarray | None = None,
             channel_amount: float = 0.0, finetune: Callable | None = None, model_name: str = "model"):
    """Run the pipeline on a Sequential ``model`` (left untouched); returns (optimized model, CapstoneReport).

    Stages: "baseline" -> "channels pruned" (only when channel_amount > 0: ``prune_channels`` removes
    that fraction of the output channels of every Linear/Conv2d but the last, so arrays and FLOPs
    really shrink; then ``finetune(model)`` if given) -> "int8" (``quantize_model`` with the
    ``calibration`` inputs, per-channel weights). The baseline's per-layer profile (one eval
    sample) goes into the report.
    """
    import copy

    inputs, targets = eval_data
    #% solution hint="stages = [snapshot('baseline', ...)]; table = profile_model(model, inputs[:1]).table(); work = deepcopy(model); if channel_amount: prune_channels(work, i, channel_amount) for every prunable index but the last, finetune(work), snapshot; then quantize_model(work, [calibration] or None) and snapshot('int8')."
    stages = [snapshot("baseline", model, inputs, targets)]
    table = profile_model(model, Tensor(inputs[:1])).table()
    work = copy.deepcopy(model)
    if channel_amount > 0:
        prunable = [i for i, layer in enumerate(work.layers) if isinstance(layer, PRUNABLE)]
        for index in prunable[:-1]:
            prune_channels(work, index, channel_amount)
        if finetune is not None:
            finetune(work)
        stages.append(snapshot("channels pruned", work, inputs, targets))
    quantized = quantize_model(work, [Tensor(calibration)] if calibration is not None else None)
    stages.append(snapshot("int8", quantized, inputs, targets))
    return quantized, CapstoneReport(model_name=model_name, stages=stages, profile_table=table)
    #% endsolution


def generation_speed(model, prompt: np.ndarray, new_tokens: int = 200) -> dict:
    """Greedy generation of ``new_tokens`` tokens without and with the KV-cache: seconds, tokens/s, speedup, identical?"""
    #% solution hint="Time model.generate(prompt, new_tokens, greedy=True, use_cache=...) for False then True with time.perf_counter; fill every key, tokens/s = new_tokens / seconds; identical_output compares the two token arrays."
    timings, outputs = {}, {}
    for use_cache in (False, True):
        start = time.perf_counter()
        outputs[use_cache] = model.generate(prompt, new_tokens, greedy=True, use_cache=use_cache)
        timings[use_cache] = time.perf_counter() - start
    return {
        "new_tokens": new_tokens,
        "seconds_without_cache": timings[False],
        "seconds_with_cache": timings[True],
        "tokens_per_s_without_cache": new_tokens / timings[False],
        "tokens_per_s_with_cache": new_tokens / timings[True],
        "speedup": timings[False] / timings[True],
        "identical_output": bool(np.array_equal(outputs[False], outputs[True])),
    }
    #% endsolution


# ---------------------------------------------------------------------- writing the report
def write_report(report: CapstoneReport, folder, name: str = "capstone") -> tuple[Path, Path]:
    """Write <folder>/<name>.json and <folder>/<name>.html; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / f"{name}.json", folder / f"{name}.html"
    json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    html_path.write_text(report.to_html(), encoding="utf-8")
    return json_path, html_path


_COLUMNS = [("accuracy", "accuracy", "{:.2%}"), ("model_bytes", "bytes stored", "{:,}"),
            ("parameters", "float parameters", "{:,}"), ("sparsity", "sparsity", "{:.1%}"),
            ("latency_p50_ms", "latency p50 (ms)", "{:.3f}")]


_CSS = ("body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; } "
        "table { border-collapse: collapse; width: 100%; } "
        "th, td { padding: .4rem .6rem; border-bottom: 1px solid #ddd; text-align: right; } "
        "th:first-child { text-align: left; } .bar { height: .35rem; background: #4a7bd0; margin-top: .2rem; } "
        ".verdict { font-size: 1.2rem; padding: .6rem; } "
        "pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: .8rem; }")


def render_html(report: CapstoneReport) -> str:
    """The report as one HTML page with inline CSS (no scripts, no external files)."""
    verdict = "meets" if report.meets() else "does not meet"
    largest = {key: max(getattr(s, key) for s in report.stages) or 1 for key, _, _ in _COLUMNS}
    rows = []
    for stage in report.stages:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = getattr(stage, key)
            width = 100 * value / largest[key]
            cells.append(f'<td>{fmt.format(value)}<div class="bar" style="width:{width:.0f}%"></div></td>')
        rows.append(f"<tr><th>{html.escape(stage.stage)}</th>{''.join(cells)}</tr>")
    header = "".join(f"<th>{title}</th>" for _, title, _ in _COLUMNS)
    generation = ""
    if report.generation:
        g = report.generation
        generation = (f"<h2>Generation with the KV-cache</h2><p>{g['new_tokens']} new tokens: "
                      f"{g['tokens_per_s_without_cache']:.1f} tokens/s without the cache, "
                      f"{g['tokens_per_s_with_cache']:.1f} with it: <b>{g['speedup']:.1f}x</b>; "
                      f"identical output: {g['identical_output']}.</p>")
    colour = "#e4f4e4" if report.meets() else "#fbe4e4"
    return "\n".join([
        '<!doctype html>',
        f'<html lang="en"><head><meta charset="utf-8"><title>Capstone report: {html.escape(report.model_name)}</title>',
        "<style>" + _CSS + " .verdict { background: " + colour + "; }</style></head><body>",
        f"<h1>Capstone report: {html.escape(report.model_name)}</h1>",
        f'<p class="verdict">The optimized model {verdict} the targets (&ge; 2x faster or &ge; 4x smaller, '
        f"at most 1 point of accuracy lost): {report.size_ratio():.2f}x smaller, {report.speedup():.2f}x faster, "
        f"accuracy {-report.accuracy_drop():+.2%}.</p>",
        "<h2>Stages</h2>",
        f"<table><tr><th>stage</th>{header}</tr>",
        *rows,
        "</table>",
        generation,
        "<h2>Baseline profile</h2>",
        f"<pre>{html.escape(report.profile_table)}</pre>",
        "</body></html>",
        "",
    ])
