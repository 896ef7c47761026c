"""Fail closed: when isolation cannot be proven, every call raises and nothing runs anywhere."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentinstruct.tools.sandbox import (
    BubblewrapSandbox,
    SandboxConfig,
    SandboxUnavailable,
    bubblewrap,
    prerequisites,
)

pytestmark = pytest.mark.timeout(120)

SRC = Path(__file__).resolve().parents[1] / "src"
ALLOW_ALL_BPF = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)  # BPF_RET SECCOMP_RET_ALLOW


def marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\nprint('ran')\n"


def assert_refuses(sandbox: BubblewrapSandbox, marker: Path, *expected: str) -> str:
    for _ in range(2):  # the verdict is cached: every later call fails the same way
        with pytest.raises(SandboxUnavailable) as error:
            sandbox.run(marker_code(marker))
        message = str(error.value)
        assert "nothing was run" in message
        for text in expected:
            assert text in message, message
    assert not marker.exists()
    return message


def test_missing_bwrap_binary(tmp_path):
    marker = tmp_path / "marker"
    sandbox = BubblewrapSandbox(SandboxConfig(bwrap="/nonexistent/bwrap"))
    assert_refuses(sandbox, marker, "bubblewrap not found", "apt-get install bubblewrap")


def test_empty_system_path(tmp_path, monkeypatch):
    monkeypatch.setattr(prerequisites, "SYSTEM_PATH", str(tmp_path / "empty-bin"))
    marker = tmp_path / "marker"
    message = assert_refuses(BubblewrapSandbox(), marker, "bubblewrap not found")
    assert "prlimit not found" in message


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap to build the outer jail")
def test_user_namespaces_unavailable(tmp_path):
    """Inside `bwrap --unshare-user --disable-userns`, the sandbox cannot nest and must say so."""
    marker = tmp_path / "marker"
    script = textwrap.dedent(
        f"""
        from agentinstruct.tools.sandbox import BubblewrapSandbox, SandboxUnavailable
        try:
            BubblewrapSandbox().run({marker_code(marker)!r})
        except SandboxUnavailable as exc:
            print("UNAVAILABLE", exc)
        else:
            print("RAN")
        """
    )
    jail = ["bwrap", "--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000"]
    jail += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    jail += ["--bind", str(tmp_path), str(tmp_path)]
    jail += ["--ro-bind", str(SRC), str(SRC)]  # the checkout may itself live under /tmp
    proc = subprocess.run(
        [*jail, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert proc.stdout.startswith("UNAVAILABLE"), proc.stdout + proc.stderr
    assert "nothing was run" in proc.stdout
    assert not marker.exists()


def test_canary_catches_a_filter_that_allows_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(bubblewrap, "seccomp_bpf", lambda: ALLOW_ALL_BPF)
    assert_refuses(BubblewrapSandbox(), tmp_path / "marker", "'no network' failed (socket family")


def test_canary_catches_missing_rlimits(tmp_path, monkeypatch):
    monkeypatch.setattr(bubblewrap, "prlimit_argv", lambda prlimit, limits: [prlimit, "--"])
    assert_refuses(BubblewrapSandbox(), tmp_path / "marker", "rlimits in force", "processes capped")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can launch the sandbox as uid 0")
def test_canary_catches_host_uid_zero(tmp_path, monkeypatch):
    monkeypatch.setattr(bubblewrap, "unusable_uid_reason", lambda uid: None)
    monkeypatch.setattr(BubblewrapSandbox, "_uids", lambda self: [0])
    assert_refuses(BubblewrapSandbox(), tmp_path / "marker", "host uid is not 0", "uid inside is not 0")


def test_system_uid_refused_before_anything_runs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("uid slots are only used as root")
    sandbox = BubblewrapSandbox(SandboxConfig(uid_base=0, max_concurrency=1))
    message = assert_refuses(sandbox, tmp_path / "marker", "sandbox uids", "is a system uid")
    assert "canary ran" not in message
