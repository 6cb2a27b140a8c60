"""What a source's files say besides their pictures: container format, JPEG quality and
chroma subsampling, image size. A classifier can learn these instead of the generators (one
source's files JPEG, another's PNG; different qualities or sizes), so each folder source's
are reported at preparation, and the sources of an experiment compared.
"""

import functools
import io
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image, JpegImagePlugin

from ..errors import GanprintError
from ..storage import load_json, save_json, save_table

log = logging.getLogger(__name__)

SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
# Differences a classifier can read: JPEG qualities this far apart (median), sizes this many
# times apart (median side), a format's share this different between two sources.
QUALITY_GAP = 5
SIZE_RATIO = 1.1
SHARE_GAP = 0.1


@dataclass(frozen=True)
class FileFormat:
    """One image file's format: container, JPEG quality estimate and chroma subsampling (JPEG
    only), size before any crop."""

    container: str
    width: int
    height: int
    jpeg_quality: int | None = None
    subsampling: str | None = None


@functools.cache
def _quality_tables() -> np.ndarray:
    """The luminance quantisation table Pillow's encoder writes at each quality 1-100."""
    tables = []
    for quality in range(1, 101):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, format="JPEG", quality=quality)
        with Image.open(buffer) as encoded:
            tables.append(list(encoded.quantization[0]))
    return np.asarray(tables, dtype=np.float64)


def jpeg_quality(image: Image.Image) -> int | None:
    """The quality (1-100, libjpeg's scale) whose luminance table is nearest the file's."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    distances = np.abs(_quality_tables() - np.asarray(list(tables[0]), dtype=np.float64)).sum(1)
    return int(distances.argmin()) + 1


def file_format(image: Image.Image) -> FileFormat:
    """The format of an opened (not yet converted) image."""
    container = image.format or "unknown"
    if container in ("JPEG", "MPO"):
        return FileFormat(container, image.width, image.height, jpeg_quality(image),
                          SUBSAMPLING.get(JpegImagePlugin.get_sampling(image), "other"))
    return FileFormat(container, image.width, image.height)


def summarise(formats: list[FileFormat]) -> dict:
    """A source's report: the share of each container and subsampling, the JPEG qualities'
    quartiles, the sides' quartiles."""
    if not formats:
        raise GanprintError("no image files to report the formats of")
    table = pd.DataFrame([vars(f) for f in formats])
    quartiles = lambda column: [float(v) for v in np.percentile(column, [25, 50, 75])]  # noqa: E731
    qualities = table["jpeg_quality"].dropna()
    return {
        "images": len(table),
        "containers": table["container"].value_counts(normalize=True).round(4).to_dict(),
        "subsampling": table["subsampling"].dropna().value_counts(normalize=True).round(4).to_dict(),
        "jpeg_quality_quartiles": quartiles(qualities) if len(qualities) else None,
        "width_quartiles": quartiles(table["width"]),
        "height_quartiles": quartiles(table["height"]),
    }


def write_report(formats: list[FileFormat], output: str) -> dict:
    report = summarise(formats)
    save_json(output, report)
    return report


def _share_gap(first: dict, second: dict) -> float:
    return max(abs(first.get(key, 0.0) - second.get(key, 0.0)) for key in set(first) | set(second))


def differences(first: dict, second: dict) -> list[str]:
    """How two sources' files differ in ways a classifier could read."""
    found = []
    if _share_gap(first["containers"], second["containers"]) > SHARE_GAP:
        found.append(f"containers {first['containers']} against {second['containers']}")
    if first["subsampling"] and second["subsampling"] and _share_gap(first["subsampling"], second["subsampling"]) > SHARE_GAP:
        found.append(f"JPEG chroma subsampling {first['subsampling']} against {second['subsampling']}")
    qualities = first["jpeg_quality_quartiles"], second["jpeg_quality_quartiles"]
    if all(qualities) and abs(qualities[0][1] - qualities[1][1]) >= QUALITY_GAP:
        found.append(f"median JPEG quality {qualities[0][1]:g} against {qualities[1][1]:g}")
    sides = [min(report["width_quartiles"][1], report["height_quartiles"][1]) for report in (first, second)]
    if max(sides) > SIZE_RATIO * min(sides):
        found.append(f"median short side {sides[0]:g} against {sides[1]:g} pixels")
    return found


def compare_sources(report_paths: list[str], sources: list[str], output: str,
                    reencoded_quality: int | None = None) -> pd.DataFrame:
    """Every pair of sources whose files differ in a way a classifier could read, one row per
    difference (none: an empty table), named in one warning; where every source was
    re-encoded (at `reencoded_quality`), in a note."""
    if len(report_paths) != len(sources):
        raise GanprintError(f"{len(sources)} sources for {len(report_paths)} format reports")
    reports = {source: load_json(path) for source, path in zip(sources, report_paths)}
    rows = [{"first": first, "second": second, "difference": difference}
            for index, first in enumerate(sources) for second in sources[index + 1 :]
            for difference in differences(reports[first], reports[second])]
    table = pd.DataFrame(rows, columns=["first", "second", "difference"])
    save_table(output, table)
    if len(table) and reencoded_quality is None:
        log.warning("%s", format_warning(table))
    elif len(table):
        log.info("every source re-encoded as JPEG at quality %d; their files differed: %s", reencoded_quality,
                 "; ".join(table["difference"]))
    return table


def format_warning(table: pd.DataFrame) -> str:
    """One warning for an experiment's format differences."""
    lines = [f"  {row.first} / {row.second}: {row.difference}" for row in table.itertuples()]
    return ("these sources' files differ in ways a classifier can learn instead of their generators "
            "(set reencode to give every source the same JPEG encoding):\n" + "\n".join(lines))
