"""What survives a kill: the manifest (JSON, replaced atomically) and the append-only training set.

Invariants (what makes ``seimd learn`` resumable at any moment):

* ``manifest.json`` is only ever replaced whole: written to a temporary file in the same
  directory, flushed, fsync'ed, then ``os.replace``'d over the old one (atomic on POSIX),
  and the directory is fsync'ed. A reader sees the old or the new manifest, never a mix.
* ``training.cfg`` is only ever appended to. A label is appended, flushed and fsync'ed
  **before** the manifest records it; the manifest holds the number of configurations and
  the byte length of the file it vouches for.
* On opening, bytes beyond the recorded length are either complete configurations carrying
  a ``Feature seimd_task`` (appended, fsync'ed, then killed before the manifest caught up):
  they are *adopted* (recorded, not relabelled); or a torn write: the file is truncated
  back to the last complete configuration. A file shorter than recorded is corruption and
  an error.

Every labelled configuration carries ``Feature seimd_task <iteration>:<k>`` (``init:<k>``
for start.unlabelled), ``seimd_oracle`` and the features of its source (MD run, step, grade).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

from seimd.io.cfg import Configuration, format_cfg, read_cfg

__all__ = ["Manifest", "TrainingSet", "StoreError", "atomic_write_bytes", "atomic_copy",
           "read_structures", "TASK_FEATURE"]

TASK_FEATURE = "seimd_task"
MANIFEST_VERSION = 1


class StoreError(RuntimeError):
    """The run directory is inconsistent (the message says how)."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically (temp file + fsync + os.replace + dir fsync)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    atomic_write_bytes(target, Path(source).read_bytes())


# --------------------------------------------------------------------------- manifest


class Manifest:
    """``manifest.json``: the state of a run. ``data`` is a plain JSON-able dict.

    Top-level fields: version, created, config (the config values the run started with),
    state (running | converged | stopped | failed), training {count, bytes, initial},
    labels {task: {index, oracle, seconds, attempts, rank}}, failed {task: {reason,
    attempts}}, init {phase, tasks, ...}, iterations [{index, save, break, phase, ...}].
    """

    def __init__(self, path: str | os.PathLike, data: dict) -> None:
        self.path = Path(path)
        self.data = data

    @classmethod
    def create(cls, path: str | os.PathLike, config_snapshot: dict) -> "Manifest":
        data = {
            "version": MANIFEST_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "config": config_snapshot,
            "state": "running",
            "message": "",
            "training": {"file": "training.cfg", "count": 0, "bytes": 0, "initial": 0},
            "labels": {},
            "failed": {},
            "init": {"phase": "copy"},
            "iterations": [],
        }
        return cls(path, data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Manifest":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path}: not valid JSON ({exc}); it is written atomically, so "
                             f"this file was changed by something else") from None
        if data.get("version") != MANIFEST_VERSION:
            raise StoreError(f"{path}: manifest version {data.get('version')}, this seimd "
                             f"writes {MANIFEST_VERSION}")
        return cls(path, data)

    def save(self) -> None:
        text = json.dumps(self.data, indent=1, sort_keys=False, default=_json_default)
        atomic_write_bytes(self.path, (text + "\n").encode("utf-8"))

    # convenience
    @property
    def iterations(self) -> list[dict]:
        return self.data["iterations"]

    def iteration(self, index: int) -> dict:
        return self.data["iterations"][index]


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


# --------------------------------------------------------------------------- training set


class TrainingSet:
    """The append-only ``training.cfg`` (17 significant digits, blank line after each block)."""

    END = b"END_CFG\n"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, configs: Iterable[Configuration]) -> tuple[int, int]:
        """Append configurations, flush and fsync; returns (number appended, new byte size)."""
        text = "".join(format_cfg(c, full_precision=True) + "\n\n" for c in configs)
        if not text:
            return 0, self.size()
        data = text.encode("utf-8")
        with open(self.path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if self.size() == len(data):         # the file was just created
            _fsync_dir(self.path.parent)
        return text.count("BEGIN_CFG"), self.size()

    def read(self, nbytes: int | None = None) -> list[Configuration]:
        """The configurations in the first ``nbytes`` bytes (all when None)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            data = f.read() if nbytes is None else f.read(nbytes)
        text = data.decode("utf-8")
        return read_cfg(text) if text.strip() else []

    def reconcile(self, count: int, nbytes: int) -> list[Configuration]:
        """Make the file agree with a manifest that vouches for ``count`` configurations in
        ``nbytes`` bytes. Returns the complete configurations found beyond (to adopt, in file
        order: they were fsync'ed before the kill); a torn tail is truncated away."""
        size = self.size()
        if size < nbytes:
            raise StoreError(f"{self.path}: {size} bytes, but the manifest vouches for {nbytes} "
                             f"({count} configurations): the training set was truncated "
                             f"outside seimd learn")
        if size == nbytes:
            return []
        with open(self.path, "rb") as f:
            f.seek(nbytes)
            tail = f.read()
        end = tail.rfind(self.END)
        keep = 0 if end < 0 else end + len(self.END)
        # the blank line that follows each block belongs to it
        while keep < len(tail) and tail[keep:keep + 1] == b"\n":
            keep += 1
        adopted: list[Configuration] = []
        if keep:
            try:
                adopted = read_cfg(tail[:keep].decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                keep, adopted = 0, []
        if any(c.feature(TASK_FEATURE) is None for c in adopted):
            keep, adopted = 0, []              # not ours: never adopt unmarked data
        if keep < len(tail):
            with open(self.path, "r+b") as f:
                f.truncate(nbytes + keep)
                f.flush()
                os.fsync(f.fileno())
        return adopted


def read_structures(path: str | os.PathLike, species: list[str]) -> list:
    """``ase.Atoms`` of a .cfg (types = indices into ``species``) or any ase-readable file;
    ``.gz`` files are decompressed first. Labels (energy, forces, stress) are kept."""
    from ase.io import read

    from seimd.io.cfg import to_atoms

    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".cfg"):
        return [to_atoms(c, species) for c in read_configurations(path)]
    if path.name.endswith(".gz"):
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / name
            plain.write_bytes(gzip.decompress(path.read_bytes()))
            return list(read(plain, index=":"))
    return list(read(path, index=":"))


def read_configurations(path: str | os.PathLike) -> list[Configuration]:
    """Configurations of a .cfg or .cfg.gz file."""
    path = Path(path)
    if path.name.endswith(".gz"):
        return read_cfg(gzip.decompress(path.read_bytes()).decode("utf-8"))
    return read_cfg(path)
