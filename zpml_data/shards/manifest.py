"""The shard manifest: the contract between the data side and the training side.

``manifest.json`` is written last and atomically. Readers treat it as untrusted
input: it is checked against ``schemas/manifest.schema.json``, its version
must be one this release reads, and every file it names must be a plain name
inside the shard directory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from zpml_data.errors import IntegrityError, SourceError
from zpml_data.io.untrusted import MAX_MANIFEST_BYTES, read_untrusted_text, refuse_duplicate_keys
from zpml_data.status import STATUS_LABELS

MANIFEST_NAME = "manifest.json"
QUARANTINE_NAME = "quarantine.parquet"
FORMAT = "zpml-shards"
# 2: the inputs are one column of fixed-size binary rows of float32 (1 had a column per feature).
# 3: adds the categories of one-hot encoded inputs, the columns left out, and the split;
# a version 2 manifest reads as one without any of them.
VERSION = 3
READABLE_VERSIONS = (2, 3)


@dataclasses.dataclass
class RowGroup:
    """One row group of a shard: the unit a shuffling loader reads."""

    first_row: int  # within the shard
    rows: int
    status_counts: dict[str, int]


@dataclasses.dataclass
class ShardFile:
    """One shard file and what it must contain."""

    file: str
    rows: int
    bytes: int
    sha256: str
    status_counts: dict[str, int]
    row_groups: list[RowGroup]


@dataclasses.dataclass
class Manifest:
    """Everything a reader needs to trust and use a shard directory.

    ``status_counts`` count target cells: rows × targets.
    """

    created_by: str
    spec: dict[str, Any]
    inputs: list[str]  # the input features (source columns), in their order in each inputs row
    targets: list[str]  # value column of each target; more than one: [T]-shaped columns
    source: list[dict[str, Any]]  # fingerprint: file, bytes, mtime_ns, sha256
    source_rows: int
    rows: int
    quarantined_rows: int
    status_counts: dict[str, int]
    shards: list[ShardFile]
    quarantine: dict[str, Any] | None  # {file, rows, bytes, sha256} when rows were quarantined
    seed: int | None
    version: int = VERSION
    format: str = FORMAT
    status_labels: list[str] = dataclasses.field(default_factory=lambda: list(STATUS_LABELS))
    # The categories of each one-hot encoded (text) input, in feature order;
    # ``inputs`` names their features ``column=category``.
    categories: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # Every source column that is not an input, with the reason.
    excluded_columns: dict[str, str] = dataclasses.field(default_factory=dict)
    # In a split's set: {name, fraction, seed, by}; None for a set written whole.
    split: dict[str, Any] | None = None
    # The sha256 of the manifest bytes read (None for one built in memory):
    # a run records the manifest it actually read. Not written to the file.
    sha256: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        """The manifest as JSON: keys sorted, so equal manifests are equal bytes."""
        data = dataclasses.asdict(self)
        del data["sha256"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Build a manifest from already validated JSON data."""
        shards = [
            ShardFile(**{**s, "row_groups": [RowGroup(**g) for g in s["row_groups"]]})
            for s in data["shards"]
        ]
        fields = {f.name for f in dataclasses.fields(cls)} - {"sha256"}
        return cls(**{**{k: v for k, v in data.items() if k in fields}, "shards": shards})


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("zpml_data").joinpath("schemas", "manifest.schema.json").read_text()
    return dict(json.loads(text))


def check_plain_name(name: Any, where: str) -> str:
    """A file name from a manifest, refused unless it is a plain name inside the directory.

    Raises:
        IntegrityError: An absolute path, a path with a separator, or ``.``/``..``.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
        raise IntegrityError(
            f"{where}: file entry {name!r} is not a plain file name; a manifest may only "
            "name files inside its own directory"
        )
    return name


def listed_file(directory: str | Path, name: str) -> Path:
    """The path of a file a manifest lists, checked to be a regular file inside ``directory``.

    A symlink is followed only if it stays inside the directory, so a manifest
    cannot make a reader hash or load ``/dev/zero`` or another user's files.

    Raises:
        IntegrityError: The file is missing, leads outside the directory, or
            is not a regular file (each message names the file).
    """
    path = Path(directory) / check_plain_name(name, str(directory))
    if not path.exists():
        raise IntegrityError(f"{name}: missing")
    target = path.resolve()
    if target.parent != Path(directory).resolve():
        raise IntegrityError(f"{name}: a link leading outside the shard directory ({target})")
    if not target.is_file():
        raise IntegrityError(f"{name}: not a regular file")
    return target


def read_manifest(directory: str | Path) -> Manifest:
    """Read and check ``manifest.json`` of a shard directory.

    Raises:
        SourceError: ``directory`` does not exist.
        IntegrityError: No manifest (an incomplete or interrupted run), not
            JSON, an unknown version, a shape the schema refuses, or a file
            entry that is not a plain name.
    """
    if not Path(directory).is_dir():
        raise SourceError(f"{directory}: no such directory")
    path = Path(directory) / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        raise IntegrityError(
            f"{path}: no manifest; the directory is not a complete shard set "
            "(an interrupted run leaves none): write the shards again"
        )
    text = read_untrusted_text(path, "manifest", IntegrityError, MAX_MANIFEST_BYTES)
    try:
        data = json.loads(text, object_pairs_hook=refuse_duplicate_keys)
    except ValueError as problem:
        detail = " ".join(str(problem).split())
        raise IntegrityError(f"manifest {str(path)!r} is not valid json: {detail}") from None
    except RecursionError:
        raise IntegrityError(f"manifest {str(path)!r} is nested too deeply") from None
    version = data.get("version") if isinstance(data, dict) else None
    if version not in READABLE_VERSIONS:
        raise IntegrityError(
            f"{path}: manifest version {version!r} is unknown; this release of zpml reads "
            f"version{'s' if len(READABLE_VERSIONS) > 1 else ''} "
            f"{', '.join(map(str, READABLE_VERSIONS))}: write the shards again with it (zpml shard)"
        )
    shards = data.get("shards")
    seen: set[str] = set()
    for i, shard in enumerate(shards if isinstance(shards, list) else []):
        name = check_plain_name(
            shard.get("file") if isinstance(shard, dict) else None, f"{path}: shards[{i}]"
        )
        if name in seen:
            raise IntegrityError(f"{path}: shards[{i}]: {name!r} is listed twice")
        seen.add(name)
    if isinstance(data.get("quarantine"), dict):
        name = check_plain_name(data["quarantine"].get("file"), f"{path}: quarantine")
        if name in seen:
            raise IntegrityError(f"{path}: quarantine: {name!r} is also listed as a shard")
    try:
        jsonschema.validate(data, _schema())
    except jsonschema.ValidationError as error:
        where = "/".join(map(str, error.absolute_path)) or "top level"
        raise IntegrityError(f"{path}: invalid manifest at {where}: {error.message}") from None
    manifest = Manifest.from_dict(data)
    manifest.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()  # the bytes parsed
    return manifest


# Files this process has hashed: (path, size, mtime_ns, inode) -> sha256. A
# forked DataLoader worker inherits it, so each file is hashed once per process.
_VERIFIED: dict[tuple[str, int, int, int], str] = {}
Identity = tuple[str, int, int, int]


def identity_of(path: Path, stat: os.stat_result | None = None) -> Identity:
    """What tells a file apart from a changed one without reading it: path, size, mtime, inode."""
    stat = stat or path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def check_file(
    directory: str | Path, name: str, size: int, sha256: str, *, hash_file: bool
) -> Path:
    """A file a manifest lists, checked: inside the directory, its size and (``hash_file``) sha256.

    A file hashed once in this process is not hashed again while its identity
    (:func:`identity_of`) stays the same.

    Returns:
        The file's path.

    Raises:
        IntegrityError: One problem, naming the file: missing, a link leading
            outside, not a regular file, another size, or another sha256.
    """
    path = listed_file(directory, name)
    identity = identity_of(path)
    if identity[1] != size:
        raise IntegrityError(
            f"{name}: {identity[1]:,} bytes, the manifest says {size:,} (truncated or replaced?)"
        )
    if hash_file and _VERIFIED.get(identity) != sha256:
        if sha256_file(path) != sha256:
            raise IntegrityError(f"{name}: sha256 differs from the manifest (the file changed)")
        _VERIFIED[identity] = sha256
    return path


def check_unchanged(
    path: Path, stat: os.stat_result, size: int, sha256: str, verified: bool
) -> None:
    """Refuse an opened file that is not the one checked before (another size, or not hashed).

    Raises:
        IntegrityError: Naming the file and what to do.
    """
    if stat.st_size != size or (verified and _VERIFIED.get(identity_of(path, stat)) != sha256):
        raise IntegrityError(
            f"{path}: changed since it was checked against the manifest; "
            "write the shards again (zpml shard)"
        )


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(chunk):
            digest.update(block)
    return digest.hexdigest()
