"""Print the milestone results table (markdown) from milestones/results/*.json.

    python milestones/results_table.py
"""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = [("test_accuracy", "test accuracy", "{:.2%}"), ("hidden_layer_accuracy", "XOR accuracy (hidden layer)", "{:.0%}"),
           ("token_accuracy", "token accuracy", "{:.2%}"), ("validation_loss", "validation loss (nats/char)", "{:.3f}")]


def row(record: dict) -> str:
    metric = next((label + " " + fmt.format(record[key]) for key, label, fmt in METRICS if key in record), "")
    seconds = record.get("wall_time_s", record.get("train_wall_time_s", 0))
    return f"| {record['milestone']} | {metric} | {seconds:.0f} s | `{record['command']}` |"


def main() -> None:
    print("| milestone | result | wall time | command |")
    print("|---|---|---|---|")
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        if "milestone" in record and not record.get("quick"):  # 06_capstone_mlp.json is the capstone's report
            print(row(record))


if __name__ == "__main__":
    main()
