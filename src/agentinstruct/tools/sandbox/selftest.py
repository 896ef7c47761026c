"""The start-up canary: a real sandboxed run that must prove isolation before any model code runs.

The canary checks from inside (no network, a planted host secret unreadable, uid != 0, seccomp and
no_new_privs on, no capabilities, nested user namespaces refused, rlimits in force, no inherited
file descriptors, read-only system, forks capped) and the host checks from outside (the sandboxed
processes' host uids are not 0, no connection reached a loopback listener). Launching is done by the
caller (`BubblewrapSandbox`) through the `launch` callable, so this module only judges.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from agentinstruct.tools.sandbox.launcher import Collected
from agentinstruct.tools.sandbox.policy import SANDBOX_ENV, SandboxLimits
from agentinstruct.tools.sandbox.prerequisites import Check

# launch(code, program_path, on_started) -> Collected; on_started(process, uid) runs before output is read.
Inspector = Callable[[subprocess.Popen[bytes], int], None]
Launch = Callable[[str, str, Inspector], Collected]
READY_TIMEOUT_S = 20.0
USERNS_HINT = (
    "unprivileged user namespaces are not available here: allow them (sysctl user.max_user_namespaces, "
    "kernel.apparmor_restrict_unprivileged_userns=0) or run outside a container that forbids them"
)

_CANARY = r"""
import ctypes, json, os, resource, socket, sys
results = {}
def check(name):
    def wrap(fn):
        try:
            ok, detail = fn()
        except Exception as exc:
            ok, detail = False, repr(exc)
        results[name] = [bool(ok), str(detail)]
    return wrap
print("ready", flush=True)
sys.stdin.read()
@check("uid inside is not 0")
def _(): return os.getuid() != 0 and os.geteuid() != 0, f"uid={os.getuid()}"
@check("no network")
def _():
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET):
        try: socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK else socket.SOCK_STREAM)
        except OSError: continue
        return False, f"socket family {family} allowed"
    try: socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=1).close()
    except OSError: pass
    else: return False, "connected to the host's loopback listener"
    names = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
    return names == ["lo"], f"interfaces: {names}"
@check("planted host secret unreadable")
def _():
    try: data = open(SECRET_PATH).read()
    except OSError as exc: return True, f"{type(exc).__name__}"
    return False, "secret was readable"
@check("environment cleared")
def _():
    pid1 = [v.split(b"=")[0].decode() for v in open("/proc/1/environ", "rb").read().split(b"\0") if v]
    leaked = sorted((set(os.environ) | set(pid1)) - set(ALLOWED_ENV) - {"PWD", "LC_CTYPE"})
    return not leaked, f"unexpected variables: {leaked}"
@check("seccomp, no_new_privs, no capabilities")
def _():
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    seccomp, no_new_privs = status["Seccomp"].strip(), status["NoNewPrivs"].strip()
    ok = seccomp == "2" and no_new_privs == "1" and int(status["CapEff"], 16) == 0
    return ok, f"Seccomp={seccomp} NoNewPrivs={no_new_privs} CapEff={status['CapEff'].strip()}"
@check("nested user namespaces refused")
def _():
    nr = {"x86_64": 272, "aarch64": 97}.get(os.uname().machine)
    if nr is None: return True, "skipped on this architecture"
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(nr, 0x10000000) == -1, f"errno={ctypes.get_errno()}"
@check("rlimits in force")
def _():
    got = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n.upper())) for n in RLIMITS}
    bad = {n: v for n, v in got.items() if v != (RLIMITS[n], RLIMITS[n])}
    return not bad, f"wrong: {bad}" if bad else "as configured"
@check("no inherited file descriptors")
def _():
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    return fds[:3] == [0, 1, 2] and len(fds) <= 4, f"open fds: {fds}"
@check("system read-only")
def _():
    for path in ("/usr/agentinstruct-canary", "/agentinstruct-canary", sys.prefix + "/agentinstruct-canary"):
        try: open(path, "w").close()
        except OSError: continue
        return False, f"could write {path}"
    return True, "writes refused"
@check("processes capped")
def _():
    r, w = os.pipe()
    forked = 0
    try:
        for _ in range(RLIMITS["nproc"] + 40):
            if os.fork() == 0:
                os.close(w); os.read(r, 1); os._exit(0)
            forked += 1
    except OSError:
        pass
    os.close(w)
    for _ in range(forked): os.wait()
    return forked < RLIMITS["nproc"], f"{forked} forks succeeded"
print(json.dumps(results))
"""


def canary_source(secret_path: str, listener_port: int, limits: SandboxLimits) -> str:
    """The canary program with its parameters filled in."""
    rlimits = {"nproc": limits.processes, "as": limits.address_space_bytes, "nofile": limits.open_files}
    rlimits |= {"fsize": limits.file_size_bytes, "cpu": limits.cpu_s, "core": 0}
    header = f"SECRET_PATH = {secret_path!r}\nLISTENER_PORT = {listener_port}\n"
    header += f"ALLOWED_ENV = {sorted(SANDBOX_ENV)!r}\nRLIMITS = {rlimits!r}\n"
    return header + _CANARY


def run_canary(launch: Launch, limits: SandboxLimits) -> list[Check]:
    """Run the canary through `launch` and turn what it and the host observed into checks."""
    host_checks: list[Check] = []
    with _planted_secret() as secret_path, _loopback_listener() as listener:

        def inspect(proc: subprocess.Popen[bytes], uid: int) -> None:
            host_checks.append(_host_uid_check(proc))
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(b"go\n")
                proc.stdin.close()

        port = listener.getsockname()[1]
        outcome = launch(canary_source(str(secret_path), port, limits), "/work/canary.py", inspect)
        host_checks.append(_listener_check(listener))
    return [*host_checks, *_parse_canary(outcome)]


def _parse_canary(outcome: Collected) -> list[Check]:
    lines = outcome.stdout.text().strip().splitlines()
    try:
        results = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        stderr = outcome.stderr.text().strip().splitlines()
        reason = stderr[-1] if stderr else f"exit code {outcome.returncode}, no output"
        if outcome.timed_out:
            reason = "the canary timed out"
        if "namespace" in reason:
            reason += f"; {USERNS_HINT}"
        return [Check("canary ran", False, f"the sandbox could not run the canary: {reason}")]
    return [Check("canary ran", True, f"in {outcome.duration_s * 1000:.0f} ms")] + [
        Check(name, ok, detail) for name, (ok, detail) in results.items()
    ]


def _host_uid_check(proc: subprocess.Popen[bytes]) -> Check:
    """Wait for the canary's "ready" line, then read the host uids of every process in the tree."""
    assert proc.stdout is not None
    if _read_line(proc.stdout.fileno(), READY_TIMEOUT_S) != b"ready\n":
        return Check("host uid is not 0", False, "the canary never started")
    uids = {pid: host_uids(pid) for pid in process_tree(proc.pid)}
    root_owned = [pid for pid, ids in uids.items() if 0 in ids]
    ok = len(uids) >= 2 and not root_owned
    return Check("host uid is not 0", ok, f"uids {sorted({i for ids in uids.values() for i in ids})}")


def _read_line(fd: int, timeout_s: float) -> bytes:
    """Read from `fd` byte by byte up to a newline, giving up after `timeout_s` (no read-ahead)."""
    line = b""
    deadline = time.monotonic() + timeout_s
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 1) if ready else b""
        if not chunk:
            break
        line += chunk
    return line


def _listener_check(listener: socket.socket) -> Check:
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        return Check("loopback listener unreachable", True, "no connection arrived")
    return Check("loopback listener unreachable", False, "the sandbox connected to a host listener")


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc/<pid>/task/*/children."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return tree


def host_uids(pid: int) -> tuple[int, ...]:
    """Real, effective, saved and filesystem uid of a host process (empty if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return tuple(int(field) for field in line.split()[1:])
    except OSError:
        pass
    return ()


@contextmanager
def _planted_secret():
    directory = Path(tempfile.mkdtemp(prefix="agentinstruct-canary-"))
    try:
        directory.chmod(0o755)
        secret = directory / "secret.txt"
        secret.write_text(secrets.token_hex(16))
        secret.chmod(0o644)
        yield secret
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _loopback_listener():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener
    finally:
        listener.close()
