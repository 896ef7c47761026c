"""Hostile programs: every attack must be contained and reported as a normal sandbox result."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agentinstruct.tools.sandbox import BubblewrapSandbox, SandboxConfig, SandboxLimits, SandboxResult
from agentinstruct.tools.sandbox.uid_pool import processes_of_uid

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting root-only secrets needs root")

# name -> (x86_64 number, aarch64 number, arguments, expected errno name)
SYSCALLS = {
    "unshare": (272, 97, (0x10000000,), "EPERM"),
    "setns": (308, 268, (0, 0), "EPERM"),
    "mount": (165, 40, (0, 0, 0, 0, 0), "EPERM"),
    "umount2": (166, 39, (0, 0), "EPERM"),
    "pivot_root": (155, 41, (0, 0), "EPERM"),
    "chroot": (161, 51, (0,), "EPERM"),
    "ptrace": (101, 117, (0, 0, 0, 0), "EPERM"),  # PTRACE_TRACEME would succeed unfiltered
    "process_vm_readv": (310, 270, (1, 0, 0, 0, 0, 0), "EPERM"),
    "io_uring_setup": (425, 425, (1, "params"), "EPERM"),
    "bpf": (321, 280, (0, 0, 0), "EPERM"),
    "keyctl": (250, 219, (0, -3, 0), "EPERM"),  # KEYCTL_GET_KEYRING_ID would succeed unfiltered
    "add_key": (248, 217, (0, 0, 0, 0, 0), "EPERM"),
    "perf_event_open": (298, 241, (0, 0, -1, -1, 0), "EPERM"),
    "userfaultfd": (323, 282, (0,), "EPERM"),
    "kexec_load": (246, 104, (0, 0, 0, 0), "EPERM"),
    "init_module": (175, 105, (0, 0, 0), "EPERM"),
    "clone3": (435, 435, (0, 0), "ENOSYS"),
}


@pytest.fixture(scope="module")
def sandbox():
    # Own uid range per test process, so the leftover scan never sees another process's sandboxes.
    box = BubblewrapSandbox(SandboxConfig(uid_base=62000 + 8 * (os.getpid() % 1000), max_concurrency=8))
    box.ensure_ready()  # a host without isolation fails this suite loudly, it never skips it
    yield box
    box.close()


def run_json(sandbox: BubblewrapSandbox, code: str, **kwargs) -> tuple[dict, SandboxResult]:
    """Run `code`, which must print one JSON object as its last stdout line."""
    result = sandbox.run(textwrap.dedent(code), **kwargs)
    assert result.stdout.strip(), f"no output; stderr: {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def assert_no_leftovers(sandbox: BubblewrapSandbox) -> None:
    if os.geteuid() != 0:
        return
    uids = range(sandbox.config.uid_base, sandbox.config.uid_base + sandbox.config.max_concurrency)
    assert [pid for uid in uids for pid in processes_of_uid(uid)] == []


def test_network_blocked_with_loopback_listeners_present(sandbox):
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp.setblocking(False)
    udp.setblocking(False)
    code = f"""
    import json, socket
    out = {{}}
    def attempt(name, fn):
        try:
            fn(); out[name] = "OPEN"
        except OSError as exc:
            out[name] = exc.errno
    attempt("tcp", lambda: socket.create_connection(("127.0.0.1", {tcp.getsockname()[1]}), timeout=2))
    dgram = lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("udp", lambda: dgram().sendto(b"x", ("127.0.0.1", {udp.getsockname()[1]})))
    attempt("tcp6", lambda: socket.create_connection(("::1", 80), timeout=2))
    attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
    attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
    attempt("unix", lambda: socket.socketpair(socket.AF_UNIX))
    print(json.dumps(out))
    """
    try:
        out, _ = run_json(sandbox, code)
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recvfrom(16)
    finally:
        tcp.close()
        udp.close()
    assert out.pop("unix") == "OPEN"  # local socketpairs are allowed
    assert all(value == 1 for value in out.values()), out  # EPERM from seccomp


@needs_root
def test_host_secrets_and_files_unreadable(sandbox, tmp_path):
    token = secrets.token_hex(16)
    planted = [Path(f"/root/agentinstruct-secret-{token[:8]}-{mode:o}") for mode in (0o600, 0o644)]
    planted += [tmp_path / "secret-0600", tmp_path / "secret-0644"]
    tmp_path.chmod(0o755)
    for path in planted:
        path.write_text(token)
        path.chmod(0o644 if path.name.endswith("644") else 0o600)
    targets = [*map(str, planted), "/etc/shadow", str(REPO / "pyproject.toml"), "/proc/1/environ"]
    code = f"""
    import json, os
    out = {{}}
    for path in {targets!r}:
        try:
            out[path] = open(path, "rb").read().decode(errors="replace")
        except OSError as exc:
            out[path] = type(exc).__name__
    out["/root"] = sorted(os.listdir("/root"))
    print(json.dumps(out))
    """
    try:
        out, result = run_json(sandbox, code)
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    assert token not in result.stdout + result.stderr
    for path in targets[:-1]:
        assert out[path] in ("FileNotFoundError", "PermissionError"), (path, out[path])
    assert "AGENTINSTRUCT" not in out["/proc/1/environ"]
    assert out["/root"] == [".pyenv"] or not out["/root"][0].startswith("agentinstruct")


def test_parent_environment_secret_hidden(sandbox, monkeypatch):
    token = secrets.token_hex(16)
    monkeypatch.setenv("AGENTINSTRUCT_TEST_SECRET", token)
    code = """
    import json, os
    print(json.dumps({"env": dict(os.environ), "pid1": open("/proc/1/environ", "rb").read().decode(),
                      "self": open("/proc/self/environ", "rb").read().decode()}))
    """
    out, result = run_json(sandbox, code)
    assert token not in result.stdout
    assert "AGENTINSTRUCT_TEST_SECRET" not in out["env"]


def test_writes_outside_the_sandbox_refused(sandbox, tmp_path):
    world = tmp_path / "world-writable"
    world.mkdir(mode=0o777)
    world.chmod(0o1777)
    owned = tmp_path / "root-owned"
    owned.mkdir(mode=0o755)
    targets = [world / "x", owned / "x", Path("/usr/lib/agentinstruct-x"), Path("/agentinstruct-x")]
    code = f"""
    import json, sys
    out = {{}}
    for path in {[str(t) for t in targets]!r} + [sys.prefix + "/agentinstruct-x"]:
        try:
            open(path, "w").write("pwned"); out[path] = "WRITTEN"
        except OSError as exc:
            out[path] = type(exc).__name__
    print(json.dumps(out))
    """
    out, _ = run_json(sandbox, code)
    assert "WRITTEN" not in out.values(), out
    assert list(world.iterdir()) == [] and list(owned.iterdir()) == []
    assert not Path("/usr/lib/agentinstruct-x").exists()


def test_fork_bomb_capped(sandbox):
    code = """
    import json, os, time
    count = 0
    try:
        for _ in range(300):
            if os.fork() == 0:
                time.sleep(30); os._exit(0)
            count += 1
    except OSError as exc:
        print(json.dumps({"forked": count, "error": exc.errno}))
    """
    started = time.monotonic()
    out, _ = run_json(sandbox, code, timeout_s=20)
    assert out["forked"] < 64 and out["error"] == 11  # EAGAIN from RLIMIT_NPROC
    assert time.monotonic() - started < 10  # children die with the namespace when the parent exits
    assert_no_leftovers(sandbox)


def test_thread_bomb_capped(sandbox):
    code = """
    import json, threading, time
    count = 0
    try:
        for _ in range(300):
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            count += 1
    except RuntimeError as exc:
        print(json.dumps({"threads": count, "error": str(exc)}))
    """
    out, _ = run_json(sandbox, code, timeout_s=20)
    assert out["threads"] < 64


def test_huge_allocation_refused(sandbox):
    code = """
    import json
    try:
        block = bytearray(4 << 30)
        print(json.dumps({"allocated": len(block)}))
    except MemoryError:
        print(json.dumps({"allocated": 0}))
    """
    out, _ = run_json(sandbox, code)
    assert out == {"allocated": 0}


@pytest.mark.parametrize("body", ["while True: pass", "import time; time.sleep(60)"])
def test_busy_loop_and_long_sleep_killed(sandbox, body):
    result = sandbox.run(body, timeout_s=1)
    assert result.timed_out and result.killed
    assert result.duration_s < 4
    assert_no_leftovers(sandbox)


def test_cpu_limit_kills_a_busy_program():
    box = BubblewrapSandbox(SandboxConfig(limits=SandboxLimits(cpu_s=1)))
    try:
        result = box.run("while True: pass", timeout_s=20)
    finally:
        box.close()
    assert result.killed and not result.timed_out and result.exit_code == 137  # SIGKILL at the hard limit
    assert result.duration_s < 5


def test_double_forked_daemon_leaves_no_survivor(sandbox):
    marker = f"agentinstruct-daemon-{secrets.token_hex(4)}"
    code = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(1); os.close(2)
            open("/tmp/{marker}", "w").write(str(os.getpid()))
            time.sleep(60)
        os._exit(0)
    time.sleep(0.3)
    print("parent done")
    """
    result = sandbox.run(textwrap.dedent(code), timeout_s=10)
    assert result.stdout == "parent done\n" and not result.timed_out
    assert_no_leftovers(sandbox)
    survivors = [p for p in Path("/proc").glob("[0-9]*") if marker.encode() in _read(p / "cmdline")]
    assert survivors == []


def test_cannot_signal_host_process(sandbox):
    victim = subprocess.Popen(["sleep", "30"])
    try:
        code = f"""
        import json, os, signal
        out = {{}}
        try:
            os.kill({victim.pid}, signal.SIGKILL); out["kill"] = "SENT"
        except OSError as exc:
            out["kill"] = type(exc).__name__
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        print(json.dumps(out))
        """
        out, _ = run_json(sandbox, code)
        assert out["kill"] in ("ProcessLookupError", "PermissionError")
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.skipif(
    os.uname().machine not in ("x86_64", "aarch64"), reason="syscall table for x86_64/aarch64"
)
def test_dangerous_syscalls_refused(sandbox):
    column = 0 if os.uname().machine == "x86_64" else 1
    table = {name: (entry[column], entry[2]) for name, entry in SYSCALLS.items()}
    code = f"""
    import ctypes, errno, json, os, socket
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    params = ctypes.create_string_buffer(256)
    out = {{}}
    for name, (nr, args) in {table!r}.items():
        args = [ctypes.addressof(params) if a == "params" else ctypes.c_long(a) for a in args]
        ret = libc.syscall(ctypes.c_long(nr), *args)
        out[name] = [ret, errno.errorcode.get(ctypes.get_errno(), "?")]
    wrappers = {{"os.chroot": lambda: os.chroot("/tmp"), "libc.unshare": lambda: libc.unshare(0x20000)}}
    for name, fn in wrappers.items():
        try:
            ret = fn(); out[name] = [ret, errno.errorcode.get(ctypes.get_errno(), "?")]
        except OSError as exc:
            out[name] = [-1, errno.errorcode[exc.errno]]
    if hasattr(os, "unshare"):
        try:
            os.unshare(os.CLONE_NEWUSER); out["os.unshare"] = [0, "OK"]
        except OSError as exc:
            out["os.unshare"] = [-1, errno.errorcode[exc.errno]]
    print(json.dumps(out))
    """
    out, _ = run_json(sandbox, code)
    for name, (_, _, _, expected) in SYSCALLS.items():
        assert out[name] == [-1, expected], (name, out[name])
    assert out["os.chroot"] == [-1, "EPERM"] and out["libc.unshare"] == [-1, "EPERM"]
    assert out.get("os.unshare", [-1, "EPERM"]) == [-1, "EPERM"]


def test_large_file_write_refused(sandbox):
    code = """
    import json
    written = 0
    try:
        with open("/tmp/big", "wb") as f:
            for _ in range(100):
                f.write(b"x" * (1 << 20)); f.flush(); written += 1 << 20
    except OSError as exc:
        print(json.dumps({"written": written, "error": exc.errno}))
    """
    out, _ = run_json(sandbox, code)
    assert out["written"] <= 16 << 20 and out["error"] == 27  # EFBIG


def test_tmpfs_fill_bounded(sandbox):
    code = """
    import json
    total = 0
    try:
        for i in range(40):
            with open(f"/tmp/fill{i}", "wb") as f:
                for _ in range(15):
                    f.write(b"x" * (1 << 20)); f.flush(); total += 1 << 20
    except OSError as exc:
        print(json.dumps({"total": total, "error": exc.errno}))
    """
    out, _ = run_json(sandbox, code)
    assert out["total"] <= sandbox.config.limits.tmp_bytes and out["error"] == 28  # ENOSPC


def test_stdout_flood_truncated_with_bounded_host_memory(sandbox):
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    code = """
    import sys
    block = b"x" * (1 << 20)
    for _ in range(1024):
        sys.stdout.buffer.write(block)
    sys.stderr.write("e" * (3 << 20))
    """
    result = sandbox.run(textwrap.dedent(code), timeout_s=60)
    growth_mib = (_status_kib("VmHWM") - before) / 1024
    assert result.truncated and result.exit_code == 0 and not result.timed_out
    assert len(result.stdout) == 1 << 20 and len(result.stderr) == 1 << 20
    assert growth_mib < 64, f"host peak RSS grew by {growth_mib:.0f} MiB"


def test_fd_exhaustion_capped(sandbox):
    code = """
    import json
    files = []
    try:
        while len(files) < 10000:
            files.append(open("/dev/null"))
    except OSError as exc:
        print(json.dumps({"opened": len(files), "error": exc.errno}))
    """
    out, _ = run_json(sandbox, code)
    assert out["opened"] < 256 and out["error"] == 24  # EMFILE


def test_sandboxed_process_host_uid_is_not_zero(sandbox):
    marker = f"uid-probe-{secrets.token_hex(4)}"
    code = f"import time\nprint('{marker}', flush=True)\ntime.sleep(1.5)\n"
    seen: dict[int, tuple[int, ...]] = {}

    def watch() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not seen:
            for proc in Path("/proc").glob("[0-9]*"):
                argv = [arg for arg in _read(proc / "cmdline").split(b"\0") if arg]
                # the program itself (python ... /work/main.py), not the launcher chain that starts it as
                # root (unshare/nsenter/prlimit/bwrap carry the same path in their own argv before the drop)
                if (
                    argv
                    and argv[-1] == b"/work/main.py"
                    and b"python" in Path(argv[0].decode()).name.encode()
                ):
                    seen[int(proc.name)] = _uids(proc)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = sandbox.run(code, timeout_s=10)
    watcher.join()
    assert result.stdout.strip() == marker
    assert seen, "the sandboxed process was never seen from the host"
    assert all(uids and 0 not in uids for uids in seen.values()), seen


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _uids(proc: Path) -> tuple[int, ...]:
    for line in _read(proc / "status").decode().splitlines():
        if line.startswith("Uid:"):
            return tuple(int(v) for v in line.split()[1:])
    return ()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/self/status")
