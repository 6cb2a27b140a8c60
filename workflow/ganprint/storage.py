"""Writing outputs atomically and reading them back.

Every output goes to a temporary name beside its final path and is renamed into place
only when complete, so an interrupted job never leaves a file that looks finished.
torch is imported only by the checkpoint functions: tables and figures do without it.
"""

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
from pathlib import Path

import numpy as np

from .errors import GanprintError

log = logging.getLogger(__name__)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def temporary_name(final: Path) -> Path:
    """Where `final` is written until complete: named by host and process, so that jobs on
    two nodes of a shared file system never take each other's temporaries for stale ones."""
    return final.with_name(f".{final.name}.tmp{HOST}.{os.getpid()}")


def remove_stale_temporaries(final: Path) -> None:
    """Delete the temporaries of `final` left by processes of this host that are gone (a
    killed job); another host's are left alone (its process may be running)."""
    for stale in final.parent.glob(f".{final.name}.tmp*"):
        host, _, pid = stale.name.rsplit(".tmp", 1)[1].rpartition(".")
        if host in (HOST, "") and pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            log.info("removing %s, left by process %s", stale, pid)
            stale.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a new name) to the disk, where its file system can: some
    (FUSE, CIFS) refuse, and a folder one may write but not read cannot be opened."""
    try:
        _fsync(folder)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.ENOSYS, errno.EBADF, errno.EACCES, errno.EPERM):
            raise
        log.debug("%s cannot be flushed: %s", folder, error)


def human_bytes(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


def disk_full(error: BaseException, folder: Path) -> bool:
    """Whether a write failed for want of space (torch's writer does not say so: a failure
    with under 1 MiB left counts)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return shutil.disk_usage(folder).free < (1 << 20)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path; once the caller has written it, flush it and its folder to
    the disk and rename it to `path`; on failure delete it (and the temporaries that killed
    processes of this host left beside it). A full disk is one error naming the file."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    temporary = temporary_name(final)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, final)
        _fsync_folder(final.parent)
    except (OSError, RuntimeError) as error:
        if disk_full(error, final.parent):
            raise GanprintError(f"no space left to write {final}: "
                                f"{human_bytes(shutil.disk_usage(final.parent).free)} free in {final.parent}") from error
        raise
    finally:
        if temporary.exists():
            temporary.unlink()


# An array file ends with this marker and the SHA-256 (64 hex digits) of every byte before
# it; numpy reads the array and ignores what follows it.
ARRAY_DIGEST_MARKER = b"ganprint-sha256:"
DIGEST_TRAILER_SIZE = len(ARRAY_DIGEST_MARKER) + 64
_verified_arrays = set()


def _file_digest(path: Path, length: int) -> str:
    """SHA-256 of the first `length` bytes of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while length > 0:
            block = handle.read(min(1 << 24, length))
            if not block:
                break
            digest.update(block)
            length -= len(block)
    return digest.hexdigest()


def append_array_digest(path: Path) -> None:
    digest = _file_digest(path, path.stat().st_size)
    with open(path, "ab") as handle:
        handle.write(ARRAY_DIGEST_MARKER + digest.encode())


def check_array_digest(path: Path) -> None:
    """Compare an array file with its digest (once per file version and process); files
    without one (written by other tools) pass."""
    status = path.stat()
    version = (str(path.resolve()), status.st_mtime_ns, status.st_size)
    if version in _verified_arrays:
        return
    with open(path, "rb") as handle:
        handle.seek(max(0, status.st_size - DIGEST_TRAILER_SIZE))
        trailer = handle.read()
    if len(trailer) == DIGEST_TRAILER_SIZE and trailer.startswith(ARRAY_DIGEST_MARKER):
        stored = trailer[len(ARRAY_DIGEST_MARKER):].decode(errors="replace")
        if _file_digest(path, status.st_size - DIGEST_TRAILER_SIZE) != stored:
            raise GanprintError(f"{path} is corrupted: its contents do not match the digest written with it")
    _verified_arrays.add(version)


def reserve(path: Path, size: int, final: Path) -> None:
    """Allocate the file's blocks before anything is written to its mapping (a write through
    a mapping of a sparse file that the disk cannot hold dies of SIGBUS, without a word): a
    full disk is an error naming the file. Where the system cannot allocate ahead, the file
    is written as it comes."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is None:
        return
    descriptor = os.open(path, os.O_RDWR)
    try:
        allocate(descriptor, 0, size)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise GanprintError(f"no space to write {final}: it needs {human_bytes(size)}, and "
                                f"{human_bytes(shutil.disk_usage(path.parent).free)} are free in {final.parent}") from error
        log.debug("%s: space not reserved ahead: %s", final, error)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def image_array_writer(path: str | os.PathLike, count: int, size: int):
    """Yield a writable uint8 memmap of shape (count, size, size, 3) that lands at `path`,
    with its digest; its space is reserved before the caller writes to it."""
    with atomic_path(path) as temporary:
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=(count, size, size, 3))
        reserve(temporary, array.offset + array.nbytes, Path(path))
        yield array
        array.flush()
        del array
        append_array_digest(temporary)


def write_rows(images: np.ndarray, rows: np.ndarray, output: str | os.PathLike, chunk: int = 4096) -> None:
    """Copy the given rows of an image array to a new array, a chunk at a time."""
    with image_array_writer(output, len(rows), images.shape[1]) as array:
        for start in range(0, len(rows), chunk):
            array[start : start + chunk] = images[rows[start : start + chunk]]


def _read_npy(path: str | os.PathLike, kind: str, mmap_mode: str | None) -> np.ndarray:
    """A .npy file checked against its digest; every failure names the file."""
    path = Path(path)
    if not path.exists():
        raise GanprintError(f"{kind} not found: {path}")
    check_array_digest(path)
    try:
        return np.load(path, mmap_mode=mmap_mode)
    except (ValueError, OSError, EOFError) as error:
        raise GanprintError(f"{path} is not a readable .npy {kind}: {error}") from error


def load_images(path: str | os.PathLike) -> np.ndarray:
    """Read an N x H x W x 3 uint8 image array, memory-mapped, checked against its digest."""
    array = _read_npy(path, "image array", "r")
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise GanprintError(f"{path} holds {array.dtype} {array.shape}, expected uint8 N x H x W x 3")
    return array


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """An array as .npy, with its digest."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, array)
        append_array_digest(temporary)


def load_array(path: str | os.PathLike) -> np.ndarray:
    """An array written by save_array, checked against its digest."""
    return _read_npy(path, "array", None)


def save_json(path: str | os.PathLike, content) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def save_table(path: str | os.PathLike, table) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)


# A spreadsheet takes a cell that starts with one of these for a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe_csv(table) -> str:
    """CSV of a table whose text comes from outside (file names, a model's source names):
    every field quoted, so that a line break in a name stays in its cell, and text cells that
    a spreadsheet would run as a formula prefixed with an apostrophe (numbers are left as
    they are)."""
    import csv

    import pandas as pd

    safe = table.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = [f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell
                            for cell in safe[column]]
    return safe.to_csv(index=False, quoting=csv.QUOTE_ALL)


def printable_path(path: str | os.PathLike) -> str:
    """A path as text that can be written anywhere: bytes that are not UTF-8 (possible in
    file names) shown as backslash escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_output_path(output: str | os.PathLike | None, inputs: list, option: str = "--output") -> None:
    """Refuse an output that is a folder, or that would overwrite one of the inputs."""
    if output is None:
        return
    target = Path(output)
    if target.is_dir():
        raise GanprintError(f"{option} {target} is a folder; give the name of the file to write")
    for source in filter(None, inputs):
        same_name = target.resolve() == Path(source).resolve()
        if same_name or target.exists() and Path(source).exists() and target.samefile(source):
            raise GanprintError(f"{option} {target} is an input of this command ({source}); refusing to overwrite it")


DIGEST_KEY = "content_digest"


def content_digest(value) -> str:
    """SHA-256 over a checkpoint's contents: every tensor's dtype, shape and bytes, and
    every other value's repr, in order."""
    import torch

    digest = hashlib.sha256()

    def walk(item):
        if isinstance(item, torch.Tensor):
            tensor = item.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(item, dict):
            for key, child in item.items():
                digest.update(repr(key).encode())
                walk(child)
        elif isinstance(item, (list, tuple)):
            digest.update(b"[")
            for child in item:
                walk(child)
            digest.update(b"]")
        else:
            digest.update(repr(item).encode())

    walk(value)
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Save plain tensors and containers only, with their content digest; loaded back with
    weights_only=True."""
    import torch

    with atomic_path(path) as temporary:
        torch.save({**state, DIGEST_KEY: content_digest(state)}, temporary)


# The first torch release whose weights-only loading has no known bypass.
SAFE_TORCH = (2, 10)


def check_torch_release(version: str) -> None:
    release = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if release < SAFE_TORCH:
        raise GanprintError(f"torch {version} has known ways around weights-only loading, so a model file could run "
                            f"code; ganprint loads checkpoints with torch {'.'.join(map(str, SAFE_TORCH))} or newer")


def unreadable_checkpoint(path: Path, kind: str, error: Exception) -> GanprintError:
    """The error of a file that torch.load(weights_only=True) refused, in one line: code it
    would have called, or what else was wrong."""
    code = re.search(r"unsupported GLOBAL ([\w.]+)|Unsupported global: GLOBAL ([\w.]+)", str(error))
    if code:
        return GanprintError(f"{path} holds code, not only weights: loading it would call {code[1] or code[2]}. "
                             "Refused: ganprint runs no code from a model file (do not load it with "
                             "weights_only=False, which would run it)")
    detail = (str(error).strip().splitlines() or [""])[0][:200]
    return GanprintError(f"{path} is not a readable {kind} (truncated, corrupted or another kind of file): "
                         f"{type(error).__name__} {detail}".rstrip())


def load_checkpoint(path: str | os.PathLike, device="cpu", required: tuple = (), kind: str = "ganprint checkpoint") -> dict:
    """A checkpoint's contents, checked against its digest; `required` keys name what a
    `kind` of checkpoint must hold. Any failure is an error naming the file."""
    import torch

    check_torch_release(torch.__version__)
    path = Path(path)
    if not path.exists():
        raise GanprintError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise unreadable_checkpoint(path, kind, error) from error
    if not isinstance(state, dict):
        raise GanprintError(f"{path} is not a {kind}: it holds a {type(state).__name__}")
    stored = state.pop(DIGEST_KEY, None)
    if stored is not None and stored != content_digest(state):
        raise GanprintError(f"{path} is corrupted: its contents do not match the digest written with it")
    missing = [key for key in required if key not in state]
    if missing:
        raise GanprintError(f"{path} is not a {kind}: it lacks {missing} (it holds {sorted(map(str, state))[:8]})")
    return state


def settings_fingerprint(settings: dict) -> str:
    """A short digest of the settings a resumable state was produced with."""
    encoded = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def load_resume_state(path: str | os.PathLike, fingerprint: str) -> dict | None:
    """The saved state at `path` if it was made with the same settings, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, kind="resume state")
    except GanprintError as error:
        log.warning("starting afresh: %s", error)
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring %s: it was written with other settings", path)
        return None
    return state


def save_resume_state(path: str | os.PathLike, fingerprint: str, state: dict) -> None:
    save_checkpoint(path, {**state, "fingerprint": fingerprint})


def resume_path(output: str | os.PathLike) -> Path:
    """Where the training that writes `output` keeps its resumable state."""
    return Path(output).with_name(Path(output).stem + ".resume.pt")


def retire_resume_state(output: str | os.PathLike) -> None:
    """Remove the resumable state of a training once a later job has read its final
    weights. Trainings keep it after writing them: a job killed while the scheduler wraps it
    up (past its time limit, say) loses its output, and the retry then writes the same
    weights again from the finished state instead of training from the start."""
    resume_path(output).unlink(missing_ok=True)
