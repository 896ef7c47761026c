"""What the sandbox allows: resource limits, the filesystem view and the command lines that enforce them.

This module only builds argument lists (for `prlimit` and `bwrap`) from `SandboxLimits`; starting
processes lives in `launcher.py`, the seccomp filter in `seccomp_filter.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

WORK_DIR = "/work"
PROGRAM_PATH = f"{WORK_DIR}/main.py"
SANDBOX_HOSTNAME = "sandbox"

# The whole environment of the sandboxed program (bwrap --clearenv drops everything else).
SANDBOX_ENV: dict[str, str] = {
    "HOME": WORK_DIR,
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": "/tmp",
    # One BLAS/OpenMP thread: 64 tasks is the process cap, and a 64-core host would otherwise spend it.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
}

# Top-level system directories: bound read-only, or recreated as symlinks on merged-/usr systems.
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache",)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run (the defaults are the project's policy, SPEC §6)."""

    cpu_s: int = 10
    address_space_bytes: int = 1 << 30
    processes: int = 64
    file_size_bytes: int = 16 << 20
    open_files: int = 256
    tmp_bytes: int = 64 << 20
    work_bytes: int = 64 << 20
    shm_bytes: int = 16 << 20
    output_cap_bytes: int = 1 << 20
    max_timeout_s: float = 300.0
    cgroup_memory_bytes: int = 1 << 30


def prlimit_argv(prlimit: str, limits: SandboxLimits) -> list[str]:
    """`prlimit ... --` setting every rlimit (soft = hard, so the program cannot raise them)."""
    pairs = {
        "cpu": limits.cpu_s,
        "as": limits.address_space_bytes,
        "nproc": limits.processes,
        "fsize": limits.file_size_bytes,
        "nofile": limits.open_files,
        "core": 0,
    }
    return [prlimit, *(f"--{name}={value}:{value}" for name, value in pairs.items()), "--"]


def system_mount_args() -> list[str]:
    """Read-only /usr plus the top-level library/binary dirs (symlinks stay symlinks)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    return args


def bwrap_argv(
    bwrap: str,
    limits: SandboxLimits,
    *,
    interpreter: str,
    interpreter_binds: list[tuple[str, str]],
    code_fd: int,
    seccomp_fd: int,
    program_path: str = PROGRAM_PATH,
) -> list[str]:
    """The full bwrap command running `interpreter -I program_path` with the code read from `code_fd`.

    `interpreter_binds` are (source, destination) pairs mounted read-only: the interpreter's prefix
    and site-packages, possibly reached through the launcher's private mount view.
    """
    args = [
        bwrap,
        *("--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net"),
        *("--unshare-uts", "--unshare-cgroup", "--disable-userns"),
        # --as-pid-1: the program is the namespace's init, so bwrap waits for it and, once it exits,
        # the kernel has already killed everything else in the namespace (no orphaned bwrap reaper).
        *("--as-pid-1", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"),
        *("--hostname", SANDBOX_HOSTNAME),
        *system_mount_args(),
    ]
    for source, destination in interpreter_binds:
        args += ["--ro-bind", source, destination]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for size, path in (
        (limits.tmp_bytes, "/tmp"),
        (limits.work_bytes, WORK_DIR),
        (limits.shm_bytes, "/dev/shm"),
    ):
        args += ["--size", str(size), "--tmpfs", path]
    args += ["--perms", "0444", "--ro-bind-data", str(code_fd), program_path]
    args += ["--chdir", WORK_DIR, "--remount-ro", "/", "--seccomp", str(seccomp_fd)]
    for key, value in SANDBOX_ENV.items():
        args += ["--setenv", key, value]
    return [*args, "--", interpreter, "-I", program_path]
