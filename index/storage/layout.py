"""The index directory: versions, the CURRENT pointer, the build lock, pruning.

    DIR/CURRENT            name of the serving version (replaced atomically)
    DIR/HISTORY            what CURRENT pointed to: one JSON line per switch (replaced atomically)
    DIR/versions/<stamp>/  one complete, validated build (manifest.json last)
    DIR/tmp/               builds in progress; swept at the start of each run
    DIR/embeddings.sqlite  embedding cache shared by all versions
    DIR/build.lock         held by the running build (flock)
    DIR/report.json        the last build's report

A reader only ever follows CURRENT, and CURRENT only ever names a version
whose manifest was written after all its files, so a half-written version is
never opened.

Each switch of CURRENT (publish, rollback, a hand-made `switch`) first appends
{"to", "from", "by", "at"} to HISTORY, then replaces CURRENT. So a rollback
returns to the version that served before the current one, even when a build
was killed after moving its version into versions/ but before switching
CURRENT: that orphan is newer than what served, but HISTORY never shows it
serving.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
POINTER = "CURRENT"
LOCK = "build.lock"
HISTORY = "HISTORY"
HISTORY_KEEP = 100  # switches remembered (a rollback follows them back; pruned versions are skipped)


class IndexNotFound(FileNotFoundError):
    """No usable index at a path; the message says how to build one."""


class IndexDamaged(IndexNotFound):
    """A version's files cannot be read (a damaged disk, a truncated copy); the message names the file."""


class IndexLocked(RuntimeError):
    """Another build holds the lock."""


class IndexNotWritable(RuntimeError):
    """The build lock cannot be created in the index folder (read-only, full, or not ours)."""


class NothingToRollBack(RuntimeError):
    """There is no older complete version to serve."""


def build_hint(path: Path) -> str:
    return f"build one with: python -m index build --source <你的文章文件夹 / your articles folder> --index {path}"


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

    @property
    def history_file(self) -> Path:
        return self.root / HISTORY

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
        for name in (POINTER, HISTORY):
            with contextlib.suppress(FileNotFoundError):
                (self.root / (name + ".tmp")).unlink()
        return removed

    def publish(self, staged: Path, name: str, on_step: Callable[[str], None] | None = None) -> Path:
        """Move a validated build into versions/ and switch CURRENT atomically.

        `on_step` hears "publish_renamed" (the version is in versions/, CURRENT
        unchanged) and "publish_recorded" (HISTORY has the switch, CURRENT not
        yet): the crash tests stop a publish there.
        """
        self.versions.mkdir(parents=True, exist_ok=True)
        final = self.versions / name
        os.replace(staged, final)
        fsync_dir(self.versions)
        if on_step:
            on_step("publish_renamed")
        self._record(name, "publish")
        if on_step:
            on_step("publish_recorded")
        write_atomic(self.pointer, name + "\n")
        return final

    def switch(self, name: str, by: str = "switch") -> None:
        """Point CURRENT at `name` (recorded in HISTORY first)."""
        self._record(name, by)
        write_atomic(self.pointer, name + "\n")

    def history(self) -> list[dict]:
        """The switches of CURRENT, oldest first ({"to", "from", "by", "at"}); [] for an index without HISTORY.
        Unreadable lines are skipped: the history guides a rollback, it is not needed to serve."""
        try:
            lines = self.history_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("to"), str):
                out.append(entry)
        return out

    def _record(self, name: str, by: str) -> None:
        """Append "CURRENT goes from <current> to `name`" to HISTORY (rewritten atomically, last HISTORY_KEEP)."""
        entry = {"to": name, "from": self.current_name(), "by": by,
                 "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        lines = [json.dumps(e, ensure_ascii=False) for e in self.history()[-(HISTORY_KEEP - 1):]]
        write_atomic(self.history_file, "\n".join([*lines, json.dumps(entry, ensure_ascii=False)]) + "\n")

    def rollback_target(self, current: str | None = None) -> str | None:
        """The version that served before `current` (default: CURRENT's), None when there is none.

        HISTORY says: the "from" of the last switch *into* `current` that was not
        itself a rollback (so repeated rollbacks keep going back), past versions
        pruned since. For an index without that record (built before HISTORY),
        the last build's report names the version it replaced; failing that,
        the newest complete version older than `current`.
        """
        current = self.current_name() if current is None else current
        complete = set(self.list_versions())
        entries = [e for e in self.history() if e.get("by") != "rollback"]
        name, seen = current, set()
        while name is not None and name not in seen:
            seen.add(name)
            into = [e for e in entries if e["to"] == name]
            if not into:
                break
            before = into[-1].get("from")
            if before is None:
                return None  # `name` was the first version ever served here
            if before in complete and before != current:
                return before
            name = before  # pruned since (or the same): what served before that one
        if name == current:  # nothing recorded about `current`: an index from before HISTORY
            try:
                report = json.loads(self.report.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = {}
            report = report if isinstance(report, dict) else {}
            previous = report.get("previous_version")
            if report.get("version") == current and previous in complete and previous != current:
                return previous
        older = [v for v in sorted(complete) if current is None or v < current]
        return older[-1] if older else None

    def version_problem(self, name: str) -> str | None:
        """Why version `name` cannot be served (its manifest unreadable, its meta.sqlite damaged or
        disagreeing with the manifest's counts), or None. Reads the whole meta.sqlite."""
        from index.storage.store import meta_problem

        path = self.versions / name
        try:
            manifest = read_manifest(path)
        except (OSError, ValueError) as exc:
            return f"{path / MANIFEST} cannot be read ({exc})"
        if not isinstance(manifest, dict):
            return f"{path / MANIFEST} is not a manifest"
        counts = manifest.get("counts")
        if counts is None and not (path / "meta.sqlite").exists():
            return None  # not a build's manifest (every build records counts): nothing more to check
        return meta_problem(path / "meta.sqlite", counts if isinstance(counts, dict) else None)

    def rollback(self) -> tuple[str | None, str]:
        """Serve the version that served before the current one again; (previous, now serving).

        Takes the build lock, so it never races a build's publish (IndexLocked
        when a build runs); NothingToRollBack when no earlier version is kept;
        IndexDamaged (nothing switched) when that version's files are damaged.
        """
        with self.lock():
            current = self.current_name()
            target = self.rollback_target(current)
            if target is None:
                raise NothingToRollBack(
                    f"no earlier version to roll back to in {self.root} "
                    f"(serving {current}; versions: {self.list_versions()})"
                )
            problem = self.version_problem(target)
            if problem:
                raise IndexDamaged(
                    f"not rolling back to version {target}: it is damaged ({problem}); still serving {current}. "
                    f"Rebuild instead: python -m index build --full --index {self.root} --source ..."
                )
            self.switch(target, by="rollback")
            return current, target

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
        current = self.current()
        try:
            manifest = read_manifest(current)
        except (OSError, ValueError) as exc:
            raise IndexDamaged(
                f"{current / MANIFEST} cannot be read ({exc}); roll back "
                f"(python -m index rollback --index {self.root}) or rebuild with --full"
            ) from exc
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
        """Delete the oldest versions beyond `keep`, never the serving one nor the one a rollback returns to."""
        current = self.current_name()
        versions = self.list_versions()
        spared = {current, self.rollback_target(current)} if current else set()
        doomed = [v for v in versions[: max(0, len(versions) - keep)] if v not in spared]
        for v in doomed:
            shutil.rmtree(self.versions / v, ignore_errors=True)
        return doomed

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive build lock; raises IndexLocked at once if another run holds it, IndexNotWritable
        when the lock file cannot be created (a read-only or full index folder)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / LOCK, "a+")
        except OSError as exc:
            raise IndexNotWritable(
                f"cannot create the build lock {self.root / LOCK}: {exc.strerror or exc}; "
                "the index folder must be writable by the user running the build"
            ) from exc
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                fh.seek(0)
                holder = fh.read().strip()
                raise IndexLocked(
                    f"another build is running on {self.root} ({holder or 'unknown pid'}); try again later"
                ) from exc
            with contextlib.suppress(OSError):  # who holds it is a courtesy; the flock is what counts
                fh.seek(0)
                fh.truncate()
                fh.write(f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n")
                fh.flush()
            yield
        finally:
            fh.close()  # releases the flock


def write_atomic(path: Path, text: str) -> None:
    """Write-then-rename so readers see the old or the new content, never a mix.

    On failure (a full disk, a read-only folder) the temporary file is removed
    and `path` keeps its old content; the error is raised.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
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
