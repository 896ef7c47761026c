"""One unprivileged host uid per concurrent sandbox slot, and the sweep that kills a slot's leftovers.

Separate uids mean concurrent runs cannot signal or ptrace each other and `RLIMIT_NPROC` counts one
run only. Slots are locked across processes with `flock` on files under LOCK_DIR, so two agentinstruct
processes on one host never share a uid. Starting processes lives in `launcher.py`.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentinstruct.tools.sandbox.base import SandboxUnavailable

LOCK_DIR = Path("/run/agentinstruct-sandbox/locks")
MIN_SANDBOX_UID = 1000


class UidPool:
    """A fixed set of uids handed out one run at a time (`slot()` blocks until one is free)."""

    def __init__(self, uids: list[int], *, lock_dir: Path | None = LOCK_DIR):
        self.uids = list(uids)
        self.lock_dir = lock_dir
        self._busy: dict[int, int] = {}  # slot index -> lock fd (or -1 without a lock dir)
        self._cond = threading.Condition()
        if lock_dir is not None:
            lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextmanager
    def slot(self, wait_s: float = 600.0) -> Iterator[int]:
        """Hold a free uid for the duration of the block."""
        index = self._acquire(wait_s)
        try:
            yield self.uids[index]
        finally:
            self._release(index)

    def _acquire(self, wait_s: float) -> int:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                for index, uid in enumerate(self.uids):
                    if index in self._busy:
                        continue
                    lock_fd = self._try_lock(uid)
                    if lock_fd is not None:
                        self._busy[index] = lock_fd
                        return index
                if time.monotonic() > deadline:
                    raise SandboxUnavailable(
                        f"all {len(self.uids)} sandbox uids stayed busy for {wait_s:.0f}s "
                        "(other agentinstruct processes hold them); raise max_concurrency or uid_base"
                    )
                self._cond.wait(0.02)

    def _try_lock(self, uid: int) -> int | None:
        if self.lock_dir is None:
            return -1
        fd = os.open(self.lock_dir / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _release(self, index: int) -> None:
        with self._cond:
            lock_fd = self._busy.pop(index)
            if lock_fd >= 0:
                os.close(lock_fd)
            self._cond.notify()


def processes_of_uid(uid: int) -> list[int]:
    """Live host pids (zombies excluded) whose real, effective, saved or filesystem uid is `uid`."""
    found = []
    wanted = str(uid).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status if line[:4] in (b"Stat", b"Uid:"))
        except (OSError, ValueError):
            continue
        if wanted in fields.get(b"Uid", b"").split() and not fields.get(b"State", b"").strip().startswith(
            b"Z"
        ):
            found.append(int(entry.name))
    return found


def kill_processes_of_uid(uid: int, *, rounds: int = 20) -> int:
    """SIGKILL every process running as `uid` until none is left; returns how many were signalled.

    Refuses system uids (below MIN_SANDBOX_UID): sweeping root or a daemon's uid would hit the host.
    """
    if uid < MIN_SANDBOX_UID:
        return 0
    killed = 0
    for _ in range(rounds):
        pids = processes_of_uid(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return killed


def unusable_uid_reason(uid: int) -> str | None:
    """Why `uid` must not be a sandbox uid (a system uid, or an existing account/group), or None."""
    if uid < MIN_SANDBOX_UID:
        return f"{uid} is a system uid (sandbox uids must be >= {MIN_SANDBOX_UID})"
    for path in ("/etc/passwd", "/etc/group"):
        try:
            with open(path, encoding="utf-8", errors="replace") as table:
                for line in table:
                    fields = line.split(":")
                    if len(fields) > 2 and fields[2] == str(uid):
                        return f"{uid} belongs to {fields[0]!r} in {path}"
        except OSError:
            continue
    return None
