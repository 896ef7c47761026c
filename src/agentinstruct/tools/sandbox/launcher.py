"""Starting one sandbox process tree and collecting its output under a wall clock and an output cap.

Process plumbing only: which command to run comes from `policy.py` and `bubblewrap.py`. Output is read
incrementally and stops being stored at the cap, so a flood costs bounded host memory; on timeout the
whole process group is SIGKILLed (bwrap's --die-with-parent then takes the sandbox's pid namespace down).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

READ_CHUNK = 1 << 16
GRACE_S = 2.0  # after a kill, how long to wait for pipes to close and the process to be reaped


def data_fd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding `data`, positioned at its start (close-on-exec)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def spawn(argv: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (so its group can be killed) with an empty environment.

    Only `pass_fds` and the three pipes are inherited: the host's environment, secrets in it and
    every other open file stay behind.
    """
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        close_fds=True,
        pass_fds=pass_fds,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group started by `spawn` (its leader is the outer bwrap)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class CappedBuffer:
    """Keeps the first `cap` bytes written and counts the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        """Store what fits under the cap, drop the rest."""
        room = self.cap - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        """The kept bytes as UTF-8 (undecodable bytes replaced)."""
        return b"".join(self.chunks).decode("utf-8", errors="replace")


@dataclass
class Collected:
    """Raw outcome of a run as seen from the host."""

    returncode: int
    stdout: CappedBuffer
    stderr: CappedBuffer
    timed_out: bool
    duration_s: float


def collect(proc: subprocess.Popen[bytes], stdin: bytes, *, timeout_s: float, output_cap: int) -> Collected:
    """Feed stdin, drain stdout/stderr under the cap, kill at the deadline, reap the process."""
    started = time.monotonic()
    deadline = started + timeout_s
    buffers = {"stdout": CappedBuffer(output_cap), "stderr": CappedBuffer(output_cap)}
    timed_out = not _pump(proc, stdin, buffers, deadline)
    if timed_out:
        kill_group(proc)
        _pump(proc, b"", buffers, time.monotonic() + GRACE_S)
    try:
        returncode = proc.wait(timeout=max(0.0, deadline - time.monotonic()) if not timed_out else GRACE_S)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        returncode = proc.wait(timeout=GRACE_S)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    duration = time.monotonic() - started
    return Collected(returncode, buffers["stdout"], buffers["stderr"], timed_out, duration)


def _pump(
    proc: subprocess.Popen[bytes], stdin: bytes, buffers: dict[str, CappedBuffer], deadline: float
) -> bool:
    """Move bytes until both output pipes close (True) or the deadline passes (False)."""
    selector = selectors.DefaultSelector()
    for name in ("stdout", "stderr"):
        stream = getattr(proc, name)
        if stream is not None and not stream.closed:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ, name)
    pending = memoryview(stdin)
    if proc.stdin is not None and not proc.stdin.closed:
        if stdin:
            os.set_blocking(proc.stdin.fileno(), False)
            selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        else:
            proc.stdin.close()
    with selector:
        while any(key.data != "stdin" for key in selector.get_map().values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in selector.select(remaining):
                if key.data == "stdin":
                    pending = _feed(proc, selector, key.fd, pending)
                    continue
                try:
                    data = os.read(key.fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if data:
                    buffers[key.data].add(data)
                else:
                    selector.unregister(key.fd)
    return True


def _feed(
    proc: subprocess.Popen[bytes], selector: selectors.BaseSelector, fd: int, pending: memoryview
) -> memoryview:
    """Write the next piece of stdin; close it when done or when the program stopped reading."""
    try:
        pending = pending[os.write(fd, pending[:READ_CHUNK]) :]
    except BlockingIOError:
        return pending
    except (BrokenPipeError, OSError):
        pending = pending[:0]
    if not pending:
        selector.unregister(fd)
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()
    return pending
