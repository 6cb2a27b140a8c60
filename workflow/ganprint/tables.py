"""Tables assembled from evaluation metrics files: one row per metrics file."""

import pandas as pd

from . import GanprintError
from .storage import load_json, save_table

BASE_COLUMNS = ["dataset", "method", "accuracy", "fd_ratio", "n_classes", "n_test_per_class"]


def metrics_rows(paths: list[str], per_class: bool = False) -> pd.DataFrame:
    rows = []
    for path in paths:
        metrics = load_json(path)
        missing = [key for key in BASE_COLUMNS if key not in metrics]
        if missing:
            raise GanprintError(f"metrics file {path} lacks {missing}")
        row = {key: value for key, value in metrics.items() if not isinstance(value, (list, dict))}
        if per_class:
            row.update({f"accuracy_{name}": value for name, value in metrics["per_class_accuracy"].items()})
        row["sources"] = " ".join(metrics["sources"])
        rows.append(row)
    table = pd.DataFrame(rows)
    leading = [c for c in BASE_COLUMNS if c in table.columns]
    return table[leading + [c for c in table.columns if c not in leading]]


def write_table(paths: list[str], output: str, per_class: bool = False) -> pd.DataFrame:
    table = metrics_rows(paths, per_class)
    for column in ("accuracy", "fd_ratio"):
        table[column] = table[column].astype(float).round(3)
    save_table(output, table)
    return table
