"""What the attribution network needs to see native-resolution traces: the README's recipe
(32-px native patches, its widths, rate and length) on the four trace sources of
benchmarks/native_traces.py, varying one thing at a time: the network's input (the image,
or its residual at gains 1, 4 and 16), the patch alignment (8 or 1 pixel) and the flips.
Accuracy (%) on one patch per image and on the 4 x 4 grid combined; writes
<images>/../residual_input.csv. --variants picks some by their position in VARIANTS.

    python benchmarks/native_traces.py --output results/native_traces --cores 2   # makes the images
    python benchmarks/residual_input.py --images results/native_traces/images --threads 2
"""

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import ganprint  # noqa: F401  (first: it pins the CPU kernels)
import numpy as np
import pandas as pd

# (name, network input, residual gain, patch alignment, flips)
VARIANTS = [
    ("image", "image", None, 8, True),
    ("residual, gain 1", "residual", 1.0, 8, True),
    ("residual, gain 4 (ganprint's)", "residual", 4.0, 8, True),
    ("residual, gain 16", "residual", 16.0, 8, True),
    ("image, patches at any pixel", "image", None, 1, True),
    ("residual, patches at any pixel", "residual", 4.0, 1, True),
    ("residual, no flips", "residual", 4.0, 8, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="the trace folders (native_traces.py's <output>/images)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", type=int, nargs="+", default=list(range(len(VARIANTS))),
                        help="positions in VARIANTS (default: all)")
    args = parser.parse_args()

    from ganprint.attribution import network
    from ganprint.attribution.evaluation import load_model, predict_arrays
    from ganprint.attribution.training import OptimiserSettings, train_attribution
    from ganprint.data.real import prepare_real
    from ganprint.data.traces import TRACES
    from native_traces import readme_recipe

    recipe = readme_recipe()
    block, split = recipe["attribution"], recipe["split"]
    optimiser = OptimiserSettings(learning_rate=block["learning_rate"], epochs=block["epochs"],
                                  lr_schedule=block["lr_schedule"])
    images = Path(args.images).resolve()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        paths = {"train": [], "test": []}
        for trace in TRACES:
            whole = scratch / f"{trace}.npy"
            prepare_real("folder", str(whole), recipe["image_size"], split["n_train"] + split["n_test"],
                         str(images / trace), crop="native", threads=args.threads)
            array = np.load(whole)
            for name, rows_of in (("train", slice(0, split["n_train"])), ("test", slice(split["n_train"], None))):
                np.save(scratch / f"{trace}-{name}.npy", array[rows_of])
                paths[name].append(str(scratch / f"{trace}-{name}.npy"))
        for name, network_input, gain, align, flip in [VARIANTS[i] for i in args.variants]:
            if gain is not None:
                network.RESIDUAL_GAIN = gain
            from ganprint.patches import Preprocessing

            preprocessing = Preprocessing(size=recipe["image_size"], crop="native", align=align)
            model_path = scratch / f"model-{len(rows)}.pt"  # its own: a resume state knows no gain
            train_attribution(paths["train"], list(TRACES), model_path, dataclasses.replace(optimiser, flip=flip),
                              block["fmap_base"], block["fmap_max"], threads=args.threads, network_input=network_input,
                              preprocessing=preprocessing)
            row = {"variant": name}
            model = load_model(str(model_path), "cpu")
            for grid in (1, 4):
                model.preprocessing = dataclasses.replace(preprocessing, grid=grid)
                predictions, truth = predict_arrays(model, paths["test"], 256, "cpu")
                row["one patch" if grid == 1 else "4 x 4 grid"] = round(
                    100.0 * float(np.mean(predictions.probabilities.argmax(1) == truth)), 1)
            model_path.unlink()
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(images.parent / "residual_input.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
