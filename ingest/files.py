"""Reading files of a source folder without ever leaving it.

The folder source reads regular files inside its root and nothing else:

* a symbolic link is not followed unless asked (`follow_symlinks`), and even
  then only when its target, fully resolved, is inside the root; a link loop,
  a broken link or a link leading out is a Skipped entry naming the link;
* FIFOs, sockets and devices are skipped (opening a FIFO would block the
  nightly job forever), and files are opened with O_NOFOLLOW | O_NONBLOCK and
  checked with fstat, so what is read is the regular file that was checked;
* every file is reported under its path in the folder; a file reached twice
  (itself and a followed link to it) is read once.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.records import Skipped

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
LINK_HINT = "pass follow_symlinks (--follow-symlinks) to read links that stay inside the folder"


class SourceError(Exception):
    """A file that cannot be read; the message is the Skipped reason."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words an operator recognises."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"symbolic link, not followed ({LINK_HINT})"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read: permission denied (give the indexing job's user read access)"
    if exc.errno == errno.ENOENT:
        return "cannot read: the file disappeared while the source was read"
    return f"cannot read: {exc.strerror or exc}"


def open_regular(path: Path, follow_symlinks: bool = False) -> BinaryIO:
    """Open a regular file for reading; raises SourceError for anything else (never blocks on a FIFO)."""
    flags = _OPEN_FLAGS | (0 if follow_symlinks else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SourceError(_os_reason(exc)) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SourceError(f"not a regular file: {file_kind(mode)}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_size(fh: BinaryIO) -> int:
    return os.fstat(fh.fileno()).st_size


def read_limited(fh: BinaryIO, max_bytes: int) -> bytes:
    """The whole file, refusing empty files and files over `max_bytes` (checked again after reading)."""
    size = file_size(fh)
    if size == 0:
        raise SourceError("empty file")
    if size > max_bytes:
        raise SourceError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    try:
        data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(_os_reason(exc)) from exc
    if len(data) > max_bytes:
        raise SourceError(f"file grew past the {max_bytes:,}-byte limit while being read")
    if not data:
        raise SourceError("empty file")
    return data


@dataclass(frozen=True)
class FolderFile:
    """A file to read: `path` is where it is in the folder, `target` what is opened."""

    path: Path
    target: Path
    via_link: bool = False


@dataclass
class _Walk:
    root: Path
    real_root: Path
    follow_symlinks: bool
    files: list[FolderFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dirs_seen: set[tuple[int, int]] = field(default_factory=set)
    todo: list[Path] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)  # visited after every real folder: real paths win

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(Skipped(str(path), reason))

    def enter(self, path: Path, st: os.stat_result) -> bool:
        """Queue a folder to read; False when it is already read (reached again through a link)."""
        key = (st.st_dev, st.st_ino)
        if key in self.dirs_seen:
            return False
        self.dirs_seen.add(key)
        self.todo.append(path)
        return True


def walk_folder(root: Path, follow_symlinks: bool = False) -> tuple[list[FolderFile], list[Skipped]]:
    """Every regular file under `root` (hidden entries excluded), sorted by path, and what was refused."""
    real_root = root.resolve()
    walk = _Walk(root, real_root, follow_symlinks)
    walk.enter(root, os.stat(real_root))
    while walk.todo or walk.links:
        if not walk.todo:
            link = walk.links.pop(0)
            try:
                _visit_link(walk, link)
            except OSError as exc:  # the link changed under us
                walk.skip(link, _os_reason(exc))
            continue
        folder = walk.todo.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            walk.skip(folder, f"cannot list this folder: {exc.strerror or exc}")
            continue
        for entry in entries:
            if not entry.name.startswith("."):
                _visit(walk, entry, folder / entry.name)
    files, twice = _read_once(sorted(walk.files, key=lambda f: str(f.path)))
    return files, sorted(walk.skipped + twice, key=lambda s: s.source)


def _visit(walk: _Walk, entry: os.DirEntry, path: Path) -> None:
    try:
        if entry.is_symlink():
            walk.links.append(path)
        elif entry.is_dir(follow_symlinks=False):
            walk.enter(path, entry.stat(follow_symlinks=False))
        elif entry.is_file(follow_symlinks=False):
            walk.files.append(FolderFile(path, path))
        else:
            walk.skip(path, f"not a regular file: {file_kind(entry.stat(follow_symlinks=False).st_mode)}")
    except OSError as exc:
        walk.skip(path, _os_reason(exc))


def _visit_link(walk: _Walk, path: Path) -> None:
    """A symbolic link: refused with its own reason (loop, broken, outside), or followed inside the root."""
    try:
        shown = os.readlink(path)
    except OSError as exc:
        walk.skip(path, _os_reason(exc))
        return
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        walk.skip(path, f"symbolic link loop (-> {shown}): the link leads back to itself; not read")
        return
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            walk.skip(path, f"symbolic link loop (-> {shown}): the link leads back to itself; not read")
        else:
            walk.skip(path, f"broken symbolic link (-> {shown}): its target does not exist")
        return
    if not target.is_relative_to(walk.real_root):
        walk.skip(path, f"symbolic link to a file outside the source folder (-> {shown}); never read")
    elif not walk.follow_symlinks:
        walk.skip(path, f"symbolic link (-> {shown}), not followed ({LINK_HINT})")
    elif target.is_dir():
        if not walk.enter(path, target.stat()):
            walk.skip(path, f"symbolic link to a folder that is read anyway (-> {shown}); not read twice")
    elif target.is_file():
        walk.files.append(FolderFile(path, target, via_link=True))
    else:
        walk.skip(path, f"symbolic link to something that is not a regular file (-> {shown})")


def _read_once(files: list[FolderFile]) -> tuple[list[FolderFile], list[Skipped]]:
    """A followed link to a file the folder already holds is not read again (the file itself wins)."""
    if not any(f.via_link for f in files):
        return files, []
    by_target: dict[Path, FolderFile] = {}
    for f in files:
        key = f.target if f.via_link else f.path.resolve()
        first = by_target.get(key)
        if first is None or (first.via_link and not f.via_link):
            by_target[key] = f
    keep = {id(f) for f in by_target.values()}
    skipped = [
        Skipped(str(f.path), f"symbolic link to {by_target[f.target].path}, which is read under its own name")
        for f in files
        if id(f) not in keep
    ]
    return [f for f in files if id(f) in keep], skipped
