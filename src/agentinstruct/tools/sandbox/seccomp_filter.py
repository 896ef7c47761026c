"""The seccomp deny-list of the sandbox and how its BPF program is produced.

Why a helper interpreter: the filter is compiled by libseccomp through its Python binding, which
Debian ships as `python3-seccomp` for the *system* interpreter (/usr/bin/python3) only, not for
pyenv/venv interpreters. So the host runs a short, fixed script (below, never model code) under the
first interpreter that can `import seccomp`, reads the BPF program from its stdout and hands it to
bwrap with `--seccomp FD`. libseccomp (rather than hand-assembled BPF) gets syscall numbers right
per architecture, and kills the process on a foreign ABI (x32 on x86-64, 32-bit `int 0x80`), so a
deny-list cannot be bypassed through another syscall table. The program is built once per process.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import subprocess
import sys

from agentinstruct.tools.sandbox.base import SandboxUnavailable

# Refused with EPERM.
DENIED_SYSCALLS: tuple[str, ...] = (
    # namespaces and mounts
    *("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree"),
    *("fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"),
    # looking into or controlling other processes
    *("ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd"),
    # kernel attack surface with a history of privilege escalations
    *("io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd"),
    *("keyctl", "add_key", "request_key", "modify_ldt", "uselib"),
    # host administration
    *("kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot"),
    *("swapon", "swapoff", "acct", "syslog", "quotactl", "quotactl_fd", "lookup_dcookie", "vhangup"),
    *("open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "nfsservctl", "fanotify_init"),
    *("settimeofday", "clock_settime", "clock_adjtime", "adjtimex"),
)
# clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes libc fall back to clone.
ENOSYS_SYSCALLS: tuple[str, ...] = ("clone3",)
# clone(2) flags that create namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
DENIED_CLONE_FLAGS: tuple[int, ...] = (
    0x20000,
    0x2000000,
    0x4000000,
    0x8000000,
    0x10000000,
    0x20000000,
    0x40000000,
)
# Only AF_UNIX sockets: no AF_INET/AF_INET6/AF_PACKET/AF_NETLINK/AF_VSOCK/...
ALLOWED_SOCKET_FAMILY = 1
# ioctls that inject terminal input or poke the console: TIOCSTI, TIOCLINUX.
DENIED_IOCTLS: tuple[int, ...] = (0x5412, 0x541C)
# personality() flags that weaken exploitation defences: ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC.
DENIED_PERSONALITY_FLAGS: tuple[int, ...] = (0x0040000, 0x0400000)

# Runs on the host under the system interpreter; reads the policy as JSON on stdin, writes BPF to stdout.
_COMPILER_SCRIPT = r"""
import json, sys
import seccomp
p = json.load(sys.stdin)
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
skipped = []
def rule(action, name, *args):
    if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) < 0:
        skipped.append(name)
        return
    f.add_rule(action, name, *args)
for name in p["eperm"]:
    rule(seccomp.ERRNO(p["EPERM"]), name)
for name in p["enosys"]:
    rule(seccomp.ERRNO(p["ENOSYS"]), name)
for flag in p["clone_flags"]:
    rule(seccomp.ERRNO(p["EPERM"]), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
for name in ("socket", "socketpair"):
    rule(seccomp.ERRNO(p["EPERM"]), name, seccomp.Arg(0, seccomp.NE, p["socket_family"]))
for request in p["ioctls"]:
    rule(seccomp.ERRNO(p["EPERM"]), "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
for flag in p["personality_flags"]:
    rule(seccomp.ERRNO(p["EPERM"]), "personality", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
f.export_bpf(sys.stdout)
sys.stdout.flush()
sys.stderr.write(json.dumps({"skipped": skipped}))
"""


def policy_json() -> str:
    """The deny-list as the JSON document the compiler script reads."""
    return json.dumps(
        {
            "eperm": DENIED_SYSCALLS,
            "enosys": ENOSYS_SYSCALLS,
            "clone_flags": DENIED_CLONE_FLAGS,
            "socket_family": ALLOWED_SOCKET_FAMILY,
            "ioctls": DENIED_IOCTLS,
            "personality_flags": DENIED_PERSONALITY_FLAGS,
            "EPERM": errno.EPERM,
            "ENOSYS": errno.ENOSYS,
        }
    )


def compiler_candidates() -> list[str]:
    """Interpreters that may have the libseccomp binding: this one, then the system python3."""
    found = [sys.executable, "/usr/bin/python3", shutil.which("python3", path="/usr/bin:/bin") or ""]
    return list(dict.fromkeys(path for path in found if path and os.access(path, os.X_OK)))


@functools.lru_cache(maxsize=1)
def seccomp_bpf() -> bytes:
    """The compiled filter (cached); raises SandboxUnavailable when no interpreter has libseccomp."""
    errors = []
    for python in compiler_candidates():
        try:
            proc = subprocess.run(
                [python, "-I", "-c", _COMPILER_SCRIPT],
                input=policy_json().encode(),
                capture_output=True,
                timeout=60,
                env={},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{python}: {exc}")
            continue
        if proc.returncode == 0 and proc.stdout and len(proc.stdout) % 8 == 0:
            return proc.stdout
        last_line = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        errors.append(f"{python}: {last_line}")
    raise SandboxUnavailable(
        "cannot build the seccomp filter: no interpreter could import the libseccomp binding "
        f"({'; '.join(errors)}); install it with `apt-get install python3-seccomp`"
    )
