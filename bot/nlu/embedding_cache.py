"""A persistent cache of e5 sentence vectors: a retrain embeds only the texts it has not seen.

Training embeds every example with e5 (bot/nlu/e5_featurizer.py), most of a full `rasa train`,
although e5 is not trained and a text's vector never changes. A candidate model (staff/candidates/)
adds a few examples to thousands, so with this cache its training embeds those few.

Layout: one folder per model (its name is a hash of the model's identity, so vectors of another
e5 build are never mixed in), holding `shard-*.npz` files, each with `keys` (16-byte hashes of the
texts, as an N x 16 uint8 array) and `vectors` (N x 384 float32). Safe for concurrent use by
several processes (`make train`, the candidate worker, benchmarks) without a lock for reading or
adding: a shard is written under a temporary name and renamed into place, so a reader sees whole
shards only. Shards are merged when there are many, under an advisory lock; a reader that misses a
shard merged away meanwhile only embeds those texts again. Nothing here is needed for correctness:
any failure to read or write the cache is logged and the texts are embedded as before.

    E5_CACHE_DIR=/path    where the cache lives (default: $XDG_CACHE_HOME or ~/.cache, thai-eservice/e5)
    E5_CACHE_DIR=off      no cache (benchmarks that measure e5's cost set it)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ENV = "E5_CACHE_DIR"
KEY_BYTES = 16
# More shards than this are merged into one (each training adds at most one).
MAX_SHARDS = 8


def default_directory() -> Path | None:
    """The cache folder from E5_CACHE_DIR, or the user's cache folder; None when turned off."""
    configured = os.environ.get(ENV, "").strip()
    if configured.lower() in {"off", "0", "none", "false"}:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thai-eservice" / "e5"


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


class EmbeddingCache:
    """Vectors by text for one model (`model_id`: anything that changes when the vectors would)."""

    def __init__(self, directory: Path, model_id: str) -> None:
        self.directory = directory / hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]
        self.model_id = model_id
        self._vectors: dict[bytes, np.ndarray] = {}
        self._loaded: set[str] = set()

    @classmethod
    def from_env(cls, model_id: str) -> EmbeddingCache | None:
        directory = default_directory()
        return None if directory is None else cls(directory, model_id)

    # -- reading ------------------------------------------------------------------------------
    def _shards(self) -> list[Path]:
        try:
            return sorted(self.directory.glob("shard-*.npz"))
        except OSError:
            return []

    def _read_shard(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:
            return  # merged into another shard meanwhile
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("e5 cache: skipping unreadable %s (%s)", path, exc)
            return
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key.tobytes()] = vector
        self._loaded.add(path.name)

    def refresh(self) -> None:
        """Read the shards written since the last look (by this process or another)."""
        for path in self._shards():
            if path.name not in self._loaded:
                self._read_shard(path)

    def lookup(self, texts: Iterable[str]) -> list[np.ndarray | None]:
        self.refresh()
        return [self._vectors.get(text_key(text)) for text in texts]

    def __len__(self) -> int:
        return len(self._vectors)

    # -- writing ------------------------------------------------------------------------------
    def _write(self, keys: list[bytes], vectors: np.ndarray) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}.npz"
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.directory)
        try:
            with os.fdopen(handle, "wb") as out:
                key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
                np.savez(out, keys=key_array, vectors=np.asarray(vectors, dtype=np.float32))
            # The rename is atomic: a reader finds the whole shard or none of it.
            os.replace(temporary, self.directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return name

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        """Add vectors (one row per text); texts already cached are left out."""
        fresh: dict[bytes, np.ndarray] = {}
        for text, vector in zip(texts, np.atleast_2d(vectors), strict=True):
            key = text_key(text)
            if key not in self._vectors:
                fresh[key] = np.asarray(vector, dtype=np.float32)
        if not fresh:
            return
        try:
            name = self._write(list(fresh), np.stack(list(fresh.values())))
        except OSError as exc:
            logger.warning("e5 cache: cannot write to %s (%s)", self.directory, exc)
            return
        self._vectors.update(fresh)
        self._loaded.add(name)
        if len(self._shards()) > MAX_SHARDS:
            self.compact()

    def compact(self) -> None:
        """Merge every shard into one, if no other process is merging."""
        try:
            lock = open(self.directory / ".compact.lock", "w")  # noqa: SIM115 (held until the end)
        except OSError:
            return
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process is merging
            shards = self._shards()
            self._loaded.clear()
            for path in shards:
                self._read_shard(path)
            merged = [p for p in shards if p.name in self._loaded]
            if len(merged) < 2:
                return
            try:
                name = self._write(list(self._vectors), np.stack(list(self._vectors.values())))
            except OSError as exc:
                logger.warning("e5 cache: cannot merge shards in %s (%s)", self.directory, exc)
                return
            for path in merged:
                with contextlib.suppress(OSError):
                    path.unlink()
            self._loaded = {name}
