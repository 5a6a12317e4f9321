"""The index directory: versions, the CURRENT pointer, the build lock, pruning.

    DIR/CURRENT            name of the serving version (replaced atomically)
    DIR/versions/<stamp>/  one complete, validated build (manifest.json last)
    DIR/tmp/               builds in progress; swept at the start of each run
    DIR/embeddings.sqlite  embedding cache shared by all versions
    DIR/build.lock         held by the running build (flock)
    DIR/report.json        the last build's report

A reader only ever follows CURRENT, and CURRENT only ever names a version
whose manifest was written after all its files, so a half-written version is
never opened.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
POINTER = "CURRENT"
LOCK = "build.lock"


class IndexNotFound(FileNotFoundError):
    """No usable index at a path; the message says how to build one."""


class IndexLocked(RuntimeError):
    """Another build holds the lock."""


class NothingToRollBack(RuntimeError):
    """There is no older complete version to serve."""


def build_hint(path: Path) -> str:
    return f"build one with: python -m index build --source corpus --index {path}"


@dataclass(frozen=True)
class IndexDir:
    root: Path

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def pointer(self) -> Path:
        return self.root / POINTER

    @property
    def embedding_cache(self) -> Path:
        return self.root / "embeddings.sqlite"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    def current_name(self) -> str | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def current(self) -> Path:
        """The serving version's folder; IndexNotFound when there is none or it is broken."""
        if not self.root.exists():
            raise IndexNotFound(f"no index at {self.root}; {build_hint(self.root)}")
        name = self.current_name()
        if name is None:
            raise IndexNotFound(f"{self.root} holds no published index version; {build_hint(self.root)}")
        path = self.versions / name
        if not (path / MANIFEST).exists():
            raise IndexNotFound(
                f"{self.root}: CURRENT names version '{name}' but {path / MANIFEST} is missing "
                f"(index damaged); rebuild with --full or roll back: python -m index rollback --index {self.root}"
            )
        return path

    def list_versions(self) -> list[str]:
        """Complete versions (with a manifest), oldest first."""
        if not self.versions.exists():
            return []
        return sorted(p.name for p in self.versions.iterdir() if (p / MANIFEST).exists())

    def new_stamp(self) -> str:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        while (self.versions / stamp).exists():
            stamp += "x"
        return stamp

    def sweep_tmp(self) -> list[str]:
        """Remove leftovers of killed builds (only call while holding the lock)."""
        removed = []
        if self.tmp.exists():
            for p in self.tmp.iterdir():
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p.name)
        if self.versions.exists():  # a version folder without manifest never got published
            for p in self.versions.iterdir():
                if p.is_dir() and not (p / MANIFEST).exists():
                    shutil.rmtree(p, ignore_errors=True)
                    removed.append(p.name)
        with contextlib.suppress(FileNotFoundError):
            (self.root / (POINTER + ".tmp")).unlink()
        return removed

    def publish(self, staged: Path, name: str) -> Path:
        """Move a validated build into versions/ and switch CURRENT atomically."""
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / name
        os.replace(staged, final)
        fsync_dir(self.versions)
        write_atomic(self.pointer, name + "\n")
        return final

    def switch(self, name: str) -> None:
        write_atomic(self.pointer, name + "\n")

    def rollback(self) -> tuple[str | None, str]:
        """Serve the newest version older than the current one; (previous, now serving).

        Takes the build lock, so it never races a build's publish (IndexLocked
        when a build runs); NothingToRollBack when no older version is kept.
        """
        with self.lock():
            current = self.current_name()
            older = [v for v in self.list_versions() if current is None or v < current]
            if not older:
                raise NothingToRollBack(
                    f"no older version to roll back to in {self.root} (versions: {self.list_versions()})"
                )
            self.switch(older[-1])
            return current, older[-1]

    def build_running(self) -> bool:
        """Whether a build holds the lock, read from /proc/locks (never takes the lock itself).

        The page uses it to say "a new version is being built"; on systems
        without /proc/locks it answers False.
        """
        try:
            inode = (self.root / LOCK).stat().st_ino
            locks = Path("/proc/locks").read_text()
        except OSError:
            return False
        for line in locks.splitlines():
            parts = line.split()
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
                return True
        return False

    def describe(self) -> dict:
        """What `index status` prints: the serving version's manifest summary, the versions kept,
        whether a build runs now and how the last build ended. Reads files only (no model, no search)."""
        manifest = read_manifest(self.current())
        status = {"index": str(self.root), "version": self.current_name(), "versions": self.list_versions(),
                  "build_running": self.build_running(),
                  **{k: manifest.get(k) for k in ("built_at", "counts", "model", "tokenizer", "dense", "code_version",
                                                   "source_fingerprint", "categories")}}
        try:
            report = json.loads(self.report.read_text(encoding="utf-8"))
            status["last_build"] = {k: report.get(k) for k in ("status", "message", "started_at", "seconds")}
        except (OSError, ValueError):
            pass  # no build report yet, or one being replaced: the status stands without it
        return status

    def prune(self, keep: int) -> list[str]:
        """Delete the oldest versions beyond `keep`, never the serving one."""
        current = self.current_name()
        versions = self.list_versions()
        doomed = [v for v in versions[: max(0, len(versions) - keep)] if v != current]
        for v in doomed:
            shutil.rmtree(self.versions / v, ignore_errors=True)
        return doomed

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive build lock; raises IndexLocked at once if another run holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / LOCK, "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                fh.seek(0)
                holder = fh.read().strip()
                raise IndexLocked(
                    f"another build is running on {self.root} ({holder or 'unknown pid'}); try again later"
                ) from exc
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n")
            fh.flush()
            yield
        finally:
            fh.close()  # releases the flock


def write_atomic(path: Path, text: str) -> None:
    """Write-then-rename so readers see the old or the new content, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (best effort: some filesystems refuse)."""
    with contextlib.suppress(OSError):
        _fsync(path)


def fsync_tree(root: Path) -> None:
    """fsync every file under `root`: a version is durable before CURRENT names it."""
    for p in root.rglob("*"):
        if p.is_file():
            _fsync(p)


def read_manifest(version_dir: Path) -> dict:
    return json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
