"""The artifact-free subset (Sec. 4.3): the generated test images closest to a real image.

For each generated test image, the LPIPS distance to its nearest real image (exact 1-NN,
ganprint.perceptual + ganprint.neighbours); the given fraction of smallest distances is
kept, in the test set's order.
"""

import logging

import numpy as np
import torch

from . import runtime
from .errors import GanprintError
from .neighbours import nearest_neighbours
from .perceptual import LpipsEmbedding, embed_images, how_to_get_backbone, locate_backbone, lpips_network
from .settings import schema_default
from .storage import atomic_path, load_images, write_rows

log = logging.getLogger(__name__)

# Bytes of reference embeddings converted at once (one chunk of the real set).
REFERENCE_CHUNK_BYTES = 2**30


def lpips_embedding(net: str, backbone_weights: str | None, uncalibrated_fallback: bool, device):
    """The LPIPS embedding and whether its backbone is the calibrated (ImageNet) one."""
    backbone = locate_backbone(net, backbone_weights)
    if backbone is None and not uncalibrated_fallback:
        raise GanprintError(f"LPIPS {net} backbone weights not found; {how_to_get_backbone(net)}. "
                            "Or set artifact_free.uncalibrated_fallback: true to use a random backbone "
                            "(Table 6 and Figure 5 are then labelled uncalibrated)")
    if backbone is None:
        log.warning("LPIPS backbone randomly initialised: distances are uncalibrated")
    return LpipsEmbedding(lpips_network(net, backbone)).to(device), backbone is not None


def nearest_real(embedding: LpipsEmbedding, generated: np.ndarray, real: np.ndarray, device,
                 batch: int = 64, reference_chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """LPIPS distance of each generated image to its nearest real image, and that image's index.

    The search ranks by ||a||^2 + ||b||^2 - 2 a.b; the distance to the neighbour found is then
    recomputed as ||a - b||^2, free of that form's cancellation error."""
    queries = embed_images(embedding, generated, device, batch)
    if reference_chunk is None:
        reference_chunk = max(batch, REFERENCE_CHUNK_BYTES // (4 * queries.shape[1]))
    _, indices = nearest_neighbours(
        lambda positions: queries[positions], len(generated),
        lambda positions: embed_images(embedding, real[positions], device, batch), len(real),
        k=1, reference_chunk=reference_chunk)
    nearest = indices[:, 0].cpu().numpy()
    order = np.argsort(nearest, kind="stable")  # memory-mapped rows are read in increasing order
    neighbours = torch.empty_like(queries)
    neighbours[torch.from_numpy(order).to(device)] = embed_images(embedding, real[nearest[order]], device, batch)
    distances = (queries - neighbours).square().sum(dim=1)
    return distances.cpu().numpy(), nearest


def closest_fraction(distances: np.ndarray, fraction: float) -> np.ndarray:
    """Indices (sorted) of the `fraction` of smallest distances, at least one."""
    if not 0.0 < fraction <= 1.0:
        raise GanprintError(f"artifact_free.fraction must be in (0, 1], got {fraction}")
    count = max(1, int(round(fraction * len(distances))))
    return np.sort(np.argsort(distances, kind="stable")[:count])


def select_artifact_free(real_path: str, test_path: str, selection_output: str, images_output: str,
                         fraction: float = schema_default("artifact_free", "fraction"),
                         net: str = schema_default("artifact_free", "net"),
                         backbone_weights: str | None = schema_default("artifact_free", "backbone_weights"),
                         uncalibrated_fallback: bool = schema_default("artifact_free", "uncalibrated_fallback"),
                         batch: int = schema_default("artifact_free", "batch"), threads: int = 1) -> dict:
    device = runtime.configure(threads, seed=0)
    embedding, calibrated = lpips_embedding(net, backbone_weights, uncalibrated_fallback, device)
    real, generated = load_images(real_path), load_images(test_path)
    if real.shape[1:] != generated.shape[1:]:
        raise GanprintError(f"{real_path} holds {real.shape[1]}px images, {test_path} {generated.shape[1]}px")
    distances, nearest = nearest_real(embedding, generated, real, device, batch)
    selected = closest_fraction(distances, fraction)
    with atomic_path(selection_output) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, distances=distances, nearest_real=nearest, selected=selected,
                     calibrated=np.array(calibrated), net=np.array(net))
    write_rows(generated, selected, images_output)
    log.info("kept %d of %d images, LPIPS distance <= %.4f (median %.4f)", len(selected), len(generated),
             distances[selected].max(), np.median(distances))
    return {"selected": len(selected), "calibrated": calibrated}


def lpips_backbone(selection_paths: list[str]) -> str:
    """How the LPIPS distances of these selections were computed, for tables and figures."""
    calibrated = [bool(np.load(path)["calibrated"]) for path in selection_paths]
    return "imagenet" if all(calibrated) else "random (uncalibrated LPIPS)"
