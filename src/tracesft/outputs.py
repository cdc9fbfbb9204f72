"""Where and how tracesft writes: outputs whole or absent, directories it owns, never an input.

- :func:`atomic_writer` / :func:`write_text_atomic`: a file is written to a unique temporary file
  beside it, flushed to disk, then renamed over the target; a failure or signal leaves the old
  file (or none), never half of a new one, and no temporary file.
- :func:`atomic_dir`: a directory (``final/``, an imported model) is written into a temporary
  sibling, every file fsynced, then renamed to its name (an old one is replaced whole); a failure
  removes the temporary directory. :func:`clean_stale` tidies what a kill left (the owner of the
  directory calls it under its lock).
- :func:`terminate_as_interrupt`: SIGTERM raises ``KeyboardInterrupt`` while a command writes, so the
  cleanup above runs for ``kill`` as it does for Ctrl-C.
- :func:`check_output`: before any work, an ``--out``/``--json`` target is refused when it is an
  input, lies inside an input directory, or (for a directory output) holds an input.
- :func:`claim_dir`: a command that writes a directory of results (``train``, ``sweep``, ``demo``,
  ``eval``) writes only into a missing or empty directory, or into one it made before: it drops a
  marker file (:data:`MARKER`, holding the kind of command) first. Anything else is one line
  naming the directory. Marker and lock files are opened without following symlinks.
- :class:`OutputLock`: one writer at a time for an output file (an ``flock`` on a hidden sibling).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .errors import UserInputError

__all__ = ["MARKER", "atomic_writer", "write_text_atomic", "atomic_dir", "fsync_tree", "clean_stale",
           "terminate_as_interrupt", "check_output", "claim_dir", "dir_kind", "OutputLock"]

MARKER = ".tracesft-run"
#: files a directory may hold and still count as empty (written by tracesft itself, or the OS)
_IGNORABLE = {MARKER, ".lock", ".DS_Store"}


def _umask() -> int:
    mask = os.umask(0o022)  # read it (there is no getter) and put it back at once
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(path, mode: str = "w", encoding: str | None = "utf-8"):
    """``with atomic_writer(p) as f: f.write(...)``: p appears whole on success, unchanged otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode a plain open() would
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path, text: str) -> None:
    with atomic_writer(path) as f:
        f.write(text)


def _without_non_finite(value):
    """``value`` with NaN and +-inf floats (which JSON cannot hold) replaced by None (null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _without_non_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_non_finite(v) for v in value]
    return value


def json_text(value, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """``value`` as strict JSON (no newline added). JSON has no NaN or infinity: such a float (a
    metric, a field passed through) is written as ``null``, the one form for them in every file
    tracesft writes (Python's ``json`` would write the invalid literal ``NaN``)."""
    try:
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, allow_nan=False)
    except ValueError:  # a non-finite float somewhere
        return json.dumps(_without_non_finite(value), indent=indent, ensure_ascii=ensure_ascii, allow_nan=False)


def write_json_atomic(path, value, indent: int | None = 2, ensure_ascii: bool = True) -> None:
    """``value`` as one strict JSON document (see :func:`json_text`), whole or not at all."""
    write_text_atomic(path, json_text(value, indent=indent, ensure_ascii=ensure_ascii) + "\n")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path) -> None:
    """fsync every file under ``path`` and the directories themselves."""
    path = Path(path)
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink():
            _fsync_path(p)
        elif p.is_dir() and not p.is_symlink():
            _fsync_path(p)
    _fsync_path(path)


_TMP_DIR_INFIX, _OLD_DIR_INFIX = ".dirtmp-", ".dirold-"


@contextlib.contextmanager
def atomic_dir(path):
    """``with atomic_dir(p) as tmp: write files into tmp``: on success ``p`` holds them, all at once
    (an existing ``p`` is replaced whole); on failure or a signal ``p`` is unchanged and ``tmp`` gone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{_TMP_DIR_INFIX}", dir=path.parent))
    try:
        os.chmod(tmp, 0o755)
        yield tmp
        fsync_tree(tmp)
        if path.exists() or path.is_symlink():
            old = path.with_name(f".{path.name}{_OLD_DIR_INFIX}{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(path, old)
            os.rename(tmp, path)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        else:
            os.rename(tmp, path)
        _fsync_path(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_stale(directory) -> list[str]:
    """Remove the temporary files and directories an interrupted :func:`atomic_writer` /
    :func:`atomic_dir` left in ``directory``; a directory that was being replaced when the kill came
    (its new version never got the name) is put back. Returns what was handled. Call it only where
    no other writer can be at work (under the run's lock)."""
    directory = Path(directory)
    done = []
    if not directory.is_dir():
        return done
    for p in sorted(directory.iterdir()):
        name = p.name
        if not name.startswith("."):
            continue
        if _OLD_DIR_INFIX in name:
            target = directory / name[1:name.index(_OLD_DIR_INFIX)]
            if not target.exists():
                os.rename(p, target)
            else:
                shutil.rmtree(p, ignore_errors=True)
            done.append(name)
        elif _TMP_DIR_INFIX in name and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            done.append(name)
        elif name.endswith(".tmp") and p.is_file() and not p.is_symlink() and name.count(".") >= 3:
            p.unlink()  # .NAME.RANDOM.tmp from atomic_writer
            done.append(name)
    return done


@contextlib.contextmanager
def terminate_as_interrupt():
    """While inside: SIGTERM raises ``KeyboardInterrupt`` in the main thread (a no-op elsewhere), so
    that ``finally`` blocks and :func:`atomic_writer` remove their temporary files on ``kill``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output(out, inputs=(), directory: bool = False, flag: str = "--out") -> None:
    """Before any work: ``out`` can be written, is of the right kind, and touches no input: it is not
    an input, not inside an input directory, and (a directory output) holds no input."""
    out = Path(out)
    if directory and out.exists() and not out.is_dir():
        raise UserInputError(f"{flag} {out}: exists and is not a directory")
    if not directory and out.is_dir():
        raise UserInputError(f"{flag} {out}: is a directory; give a file name")
    target = out.resolve()
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        src = Path(source).resolve()
        if _inside(target, src) or (directory and _inside(src, target)):
            raise UserInputError(f"{flag} {out}: overlaps the input {source}; writing it would destroy the data "
                                 "being read (choose another output)")
    parent = out if directory else out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserInputError(f"{flag} {out}: cannot create {parent} ({e.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise UserInputError(f"{flag} {out}: {parent} is not writable")


def dir_kind(path) -> str | None:
    """The kind of tracesft command that owns ``path`` (its marker), or None."""
    marker = Path(path) / MARKER
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, encoding="utf-8") as f:
        try:
            return json.loads(f.read(4096)).get("kind")
        except (ValueError, AttributeError):
            return None


def claim_dir(path, kind: str, adopt=None) -> Path:
    """Make ``path`` a directory owned by a ``kind`` command, or refuse in one line.

    Allowed: a missing or empty directory (the marker is written first), one whose marker names
    ``kind``, or one for which ``adopt(path)`` is true (a run from before markers existed).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{path}: exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    owner = dir_kind(path)
    if owner == kind:
        return path
    if owner is not None:
        raise UserInputError(f"{path}: is a tracesft {owner} directory, not a {kind} one; choose another directory")
    if os.path.islink(path / MARKER):
        raise UserInputError(f"{path}: its {MARKER} is a symbolic link; choose another directory")
    foreign = sorted(p.name for p in path.iterdir() if p.name not in _IGNORABLE)
    if foreign and not (adopt is not None and adopt(path)):
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise UserInputError(f"{path}: is not empty and was not made by tracesft {kind} (it holds {shown}); "
                             "choose a new or empty directory")
    marker = path / MARKER
    if os.path.lexists(marker):  # unreadable (what a kill between creating and writing it leaves) in a
        os.unlink(marker)        # directory that is otherwise empty or adopted: claim it afresh
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:  # another process claimed it a moment ago
        if dir_kind(path) == kind:
            return path
        raise UserInputError(f"{path}: claimed by another tracesft process just now; choose another directory") \
            from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"kind": kind}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


class OutputLock:
    """An exclusive ``flock`` on ``.NAME.lock`` beside an output file while it is written."""

    def __init__(self, out) -> None:
        import fcntl

        out = Path(out)
        self.path = out.with_name(f".{out.name}.lock")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise UserInputError(f"{out}: cannot lock it for writing ({self.path}: {e.strerror})") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise UserInputError(f"{out}: another tracesft process is writing it; wait for it to end") from None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # the lock file stays: unlinking it would let two writers lock two files
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
