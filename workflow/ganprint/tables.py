"""Tables assembled from evaluation metrics files: one row per metrics file (Tables 1-3),
one row per switching resolution (Tables 4 and 5), or per held-out source and rejection
score (open-set attribution)."""

import pandas as pd

from .errors import GanprintError
from .attribution.network import AttributionSettings, patch_size, switch_receptive_field
from .names import parse_network
from .metrics import accuracy_over_classes_percent
from .sources import is_real, split_held_out_experiment, split_snapshot_experiment
from .storage import load_json, save_table

BASE_COLUMNS = ["dataset", "method", "accuracy", "balanced_accuracy", "fd_ratio", "n_classes", "n_test_per_class"]
# Per-source columns of a per-class table: accuracy, and average precision and ROC-AUC of the
# source against the rest (%).
PER_CLASS_MEASURES = ("accuracy", "ap", "auc")


def metrics_rows(paths: list[str], per_class: bool = False) -> pd.DataFrame:
    rows = []
    for path in paths:
        metrics = load_json(path)
        missing = [key for key in BASE_COLUMNS if key not in metrics]
        if missing:
            raise GanprintError(f"metrics file {path} lacks {missing}")
        row = {key: value for key, value in metrics.items() if not isinstance(value, (list, dict))}
        if per_class:
            for measure in PER_CLASS_MEASURES:
                row.update({f"{measure}_{name}": value for name, value in metrics.get(f"per_class_{measure}", {}).items()})
        row["sources"] = " ".join(metrics["sources"])
        rows.append(row)
    table = pd.DataFrame(rows)
    leading = [c for c in BASE_COLUMNS if c in table.columns]
    return table[leading + [c for c in table.columns if c not in leading]]


def generated_accuracy(path: str) -> float | None:
    """Accuracy over the test images of the generated sources of a metrics file: Table 6's
    headline, in which the real images, which every method attributes well, do not count."""
    metrics = load_json(path)
    generated = [index for index, source in enumerate(metrics["sources"]) if not is_real(source)]
    if not metrics.get("confusion") or not generated:
        return None
    return accuracy_over_classes_percent(metrics["confusion"], generated)


def write_table(paths: list[str], output: str, per_class: bool = False, selections: list[str] | None = None) -> pd.DataFrame:
    """Tables 1-3 and the sanity check; with `selections`, Table 6, whose `accuracy` is over the
    selected generated images and `accuracy_all_images` over them and all the real ones."""
    table = metrics_rows(paths, per_class)
    if selections:
        from .artifact_free import lpips_backbone

        table.insert(len(BASE_COLUMNS), "lpips_backbone", lpips_backbone(selections))
        table.insert(BASE_COLUMNS.index("accuracy") + 1, "accuracy_all_images", table["accuracy"])
        table["accuracy"] = [generated_accuracy(path) for path in paths]
    per_source = [column for column in table if column.startswith(tuple(f"{m}_" for m in PER_CLASS_MEASURES))]
    for column in ["accuracy", "accuracy_all_images", "balanced_accuracy", "fd_ratio", "mean_ap", "mean_auc", *per_source]:
        if column in table:
            table[column] = table[column].astype(float).round(3)
    save_table(output, table)
    return table


def _network_cells(paths: list[str], networks: list[str]):
    """(dataset, variant, switch resolution, network description, accuracy) of each metrics
    file, the network it stands for given by name (a variant identical to the full network is
    evaluated once, under 'full')."""
    if len(paths) != len(networks):
        raise GanprintError(f"{len(paths)} metrics files for {len(networks)} network names")
    for path, name in zip(paths, networks):
        metrics = load_json(path)
        variant, switch = parse_network(name)
        if "resolution" not in metrics.get("network", {}):
            raise GanprintError(f"metrics file {path} does not describe its network; evaluate the model again")
        yield metrics["dataset"], variant, switch, metrics["network"], metrics["accuracy"]


BAND_COLUMNS = ["dataset", "resolution", "low_band_accuracy", "high_band_accuracy", "high_band_input"]


def band_table(paths: list[str], networks: list[str]) -> pd.DataFrame:
    """Table 4: accuracy of the low-band and high-band networks by switching resolution, and
    how the high band entered its network (`high_band_input`)."""
    rows = {}
    for dataset, variant, switch, network, accuracy in _network_cells(paths, networks):
        row = rows.setdefault((dataset, switch), {"dataset": dataset, "resolution": switch})
        row[f"{variant}_accuracy"] = accuracy
        if variant == "high_band":  # evaluated before the arrangement was a choice: unshuffled
            row["high_band_input"] = network.get("high_band_input", "unshuffled")
    table = pd.DataFrame(list(rows.values()), columns=BAND_COLUMNS)
    for column in ("low_band_accuracy", "high_band_accuracy"):
        table[column] = table[column].astype(float).round(3)
    return table.sort_values(["dataset", "resolution"], ascending=[True, False], ignore_index=True)


def patch_table(paths: list[str], networks: list[str]) -> pd.DataFrame:
    """Table 5: accuracy of post-pooling networks by patch size (the paper's convention) and by
    the receptive field of their features at the switch point."""
    def row(dataset, variant, switch, network, accuracy):
        settings = AttributionSettings(resolution=network["resolution"], variant=variant, switch_resolution=switch)
        return {"dataset": dataset, "switch_resolution": switch, "patch_size": patch_size(settings),
                "receptive_field": switch_receptive_field(settings), "accuracy": round(float(accuracy), 3)}

    rows = [row(*cell) for cell in _network_cells(paths, networks)]
    return pd.DataFrame(rows).sort_values(["dataset", "patch_size"], ignore_index=True)


def write_component_table(kind: str, paths: list[str], networks: list[str], output: str) -> pd.DataFrame:
    table = {"bands": band_table, "patches": patch_table}[kind](paths, networks)
    save_table(output, table)
    return table


ATTACK_ROWS = ("none", "noise", "blur", "crop", "jpeg", "relight", "combination")


def attack_table(paths: list[str], clean_paths: list[str] = ()) -> pd.DataFrame:
    """Tables 7/8: one row per attack, a column per method and stage (akt: the classifier or
    fingerprints made on clean images; dfs: made again on attacked training images), from
    metrics files labelled with `attack` and `stage`; `clean_paths` fill the row 'none'."""
    cells = {}
    for path in [*paths, *clean_paths]:
        metrics = load_json(path)
        if path in clean_paths:
            metrics.update(attack="none", stage="akt")
        missing = [key for key in ("dataset", "attack", "stage", "method", "accuracy") if key not in metrics]
        if missing:
            raise GanprintError(f"metrics file {path} lacks {missing}")
        row = cells.setdefault((metrics["dataset"], metrics["attack"]),
                               {"dataset": metrics["dataset"], "attack": metrics["attack"]})
        row[f"{metrics['method']}_{metrics['stage']}"] = round(float(metrics["accuracy"]), 3)
    table = pd.DataFrame(list(cells.values()))
    for column in ("ours_akt", "ours_dfs", "prnu_akt", "prnu_dfs"):
        if column not in table:
            table[column] = float("nan")
    order = {name: position for position, name in enumerate(ATTACK_ROWS)}
    table = table.sort_values(["dataset", "attack"], key=lambda c: c.map(order) if c.name == "attack" else c)
    return table[["dataset", "attack", "ours_akt", "ours_dfs", "prnu_akt", "prnu_dfs"]].reset_index(drop=True)


def write_attack_table(paths: list[str], output: str, clean_paths: list[str] = ()) -> pd.DataFrame:
    table = attack_table(paths, clean_paths)
    save_table(output, table)
    return table


def write_length_table(paths: list[str], output: str, images_per_run: int | None = None) -> pd.DataFrame:
    """Attribution accuracy against GAN training length: one row per data set, fraction of
    the GANs' runs (read from each metrics file's experiment) and method."""
    table = metrics_rows(paths)
    fractions = [split_snapshot_experiment(name)[1] for name in table["experiment"]]
    table.insert(1, "fraction", fractions)
    if images_per_run:
        table.insert(2, "images_shown", [round(f * images_per_run) for f in fractions])
    columns = [c for c in ("dataset", "fraction", "images_shown", "method", "accuracy", "balanced_accuracy",
                           "n_classes", "n_test_per_class", "experiment", "sources") if c in table.columns]
    table = table[columns].sort_values(["dataset", "method", "fraction"], ignore_index=True)
    for column in ("accuracy", "balanced_accuracy"):
        table[column] = table[column].astype(float).round(3)
    save_table(output, table)
    return table


OPEN_SET_COLUMNS = ["threshold", "auroc", "oscr", "unknown_rejected", "test_rejected", "validation_rejected"]


def write_open_set_table(paths: list[str], output: str) -> pd.DataFrame:
    """Per held-out source and rejection score: how a classifier trained without the source
    tells its test images from the known sources' at the calibrated threshold."""
    rows = []
    for path in paths:
        metrics = load_json(path)
        experiment, held_out = split_held_out_experiment(str(metrics.get("experiment")))
        if held_out is None or "unknown_rejected" not in next(iter(metrics.get("open_set", {}).get("scores", {}).values()), {}):
            raise GanprintError(f"metrics file {path} is not the open-set evaluation of a classifier without one source")
        entry = metrics["open_set"]
        for score, measured in entry["scores"].items():
            rows.append({"dataset": metrics["dataset"], "experiment": experiment, "held_out": held_out, "score": score,
                         "default_score": score == entry["score"], "target_rejected": entry["target_rejected"],
                         **{column: measured.get(column) for column in OPEN_SET_COLUMNS},
                         "closed_set_accuracy": metrics["accuracy"]})
    table = pd.DataFrame(rows).round(4)
    save_table(output, table)
    return table
