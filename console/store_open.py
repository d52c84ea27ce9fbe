"""Open the console's conversation database so that the console always starts.

:func:`open_store` never raises for a bad database. What it does, by what is wrong:

============== ==================================================================================
damaged        the file is moved aside to ``<name>.damaged-<UTC time>`` (kept, never deleted) and a
               fresh database is started in its place
read-only      the file or its folder cannot be written: the conversations are copied into memory;
               the console runs with them, and nothing new is saved
unreachable    the data folder cannot be made (``MOE_CONSOLE_HOME`` names a file, say): the
               console runs on an empty in-memory database; nothing is saved
too new        written by a newer moe-console: left untouched; an empty in-memory database, nothing
               is saved
============== ==================================================================================

Each case returns a one-line ``notice`` for the user (and ``saving=False`` where nothing is
saved, for a visible banner).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from console import migrations
from console.store import Store, StoreError, _one_line


@dataclass
class OpenedStore:
    store: Store
    notice: str | None = None
    saving: bool = True


def open_store(path: str | Path | None = None) -> OpenedStore:
    """The database at ``path`` (default :meth:`Store.default_path`), repaired or replaced as
    the module doc says; never raises :class:`StoreError`."""
    path = Path(path) if path is not None else _default_path()
    if path is None:  # even the data folder's location is unusable
        return OpenedStore(Store(":memory:"), "conversations are not saved: no usable data folder", False)
    try:
        return OpenedStore(Store(path))
    except StoreError as exc:
        failure = exc
    if failure.kind == "damaged":
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        try:
            _move_aside(path, aside)
            return OpenedStore(Store(path), f"{failure}; the file was moved to {aside} and a fresh "
                                            "database started")
        except (OSError, StoreError) as exc:
            return OpenedStore(Store(":memory:"), f"{failure}; could not move it aside ({exc}): "
                                                  "conversations are not saved", False)
    if failure.kind == "read-only":
        try:
            copy = in_memory_copy(path)
        except StoreError as exc:
            return OpenedStore(Store(":memory:"), f"{exc}: conversations are not saved", False)
        return OpenedStore(copy, f"{path} is read-only: your conversations are shown, "
                                 "but nothing new is saved", False)
    return OpenedStore(Store(":memory:"), f"{failure}: conversations are not saved", False)


def _default_path() -> Path | None:
    try:
        return Store.default_path()
    except OSError:
        return None


def _move_aside(path: Path, aside: Path) -> None:
    """Rename the database and its WAL/shm companions; nothing is deleted."""
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))


def in_memory_copy(path: str | Path) -> Store:
    """A ``:memory:`` store holding what ``path`` holds; ``path`` is only read (through a
    temporary copy of the file and its WAL, since SQLite cannot read a WAL database in a
    folder it may not write). An empty store when ``path`` does not exist."""
    store = Store(":memory:", check=False)
    path = Path(path)
    if not path.is_file():
        return store
    try:
        with tempfile.TemporaryDirectory(prefix="moe-console-") as scratch:
            copy = Path(scratch) / path.name
            for suffix in ("", "-wal"):
                if path.with_name(path.name + suffix).is_file():
                    shutil.copyfile(path.with_name(path.name + suffix), copy.with_name(copy.name + suffix))
            source = sqlite3.connect(copy)
            try:
                with store._lock:
                    source.backup(store._db)  # replaces the fresh schema with the file's
                    migrations.migrate(store._db)
            finally:
                source.close()
    except migrations.SchemaTooNew as exc:
        store.close()
        raise StoreError(f"{path}: {exc}", kind="too new") from None
    except (sqlite3.DatabaseError, OSError) as exc:
        store.close()
        raise StoreError(f"{path}: cannot read the conversation database ({_one_line(exc)})",
                         kind="damaged") from None
    return store
