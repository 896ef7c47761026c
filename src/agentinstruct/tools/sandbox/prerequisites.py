"""Static host checks that come before the canary: binaries, user namespaces, the interpreter's dirs.

Each check returns a `Check` whose detail says how to fix a failure. The live canary run, which has
the final word on isolation, is in `selftest.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Check:
    """One line of the self-test: what was checked, whether it holds, and details or the fix."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HostTools:
    """Absolute paths of the programs the launch chain execs (None when missing)."""

    bwrap: str | None
    prlimit: str | None
    nsenter: str | None
    unshare: str | None


def find_tools(bwrap: str | None = None) -> HostTools:
    """Locate bwrap (or use the given path) and the util-linux helpers on the system PATH."""

    def which(name: str) -> str | None:
        return shutil.which(name, path=SYSTEM_PATH)

    if bwrap is None:
        bwrap = which("bwrap")
    elif not (os.path.isfile(bwrap) and os.access(bwrap, os.X_OK)):
        bwrap = None
    return HostTools(
        bwrap=bwrap, prlimit=which("prlimit"), nsenter=which("nsenter"), unshare=which("unshare")
    )


def tool_checks(tools: HostTools, *, root: bool) -> list[Check]:
    """Are the binaries there, and does bwrap know --disable-userns (bubblewrap >= 0.8)?"""
    checks = []
    if tools.bwrap is None:
        checks.append(Check("bwrap", False, "bubblewrap not found; install it: `apt-get install bubblewrap`"))
    else:
        help_text = _output([tools.bwrap, "--help"])
        supported = "--disable-userns" in help_text
        detail = (
            tools.bwrap if supported else f"{tools.bwrap} lacks --disable-userns; install bubblewrap >= 0.8"
        )
        checks.append(Check("bwrap", supported, detail))
    needed = {"prlimit": tools.prlimit}
    if root:
        needed |= {"nsenter": tools.nsenter, "unshare": tools.unshare}
    for name, path in needed.items():
        detail = path or f"{name} not found; install util-linux"
        checks.append(Check(name, path is not None, detail))
    return checks


def userns_check() -> Check:
    """Can an unprivileged user create a user namespace (sysctls, AppArmor restriction)?"""
    problems = []
    if _read_int("/proc/sys/user/max_user_namespaces", 1) == 0:
        problems.append("user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)")
    if _read_int("/proc/sys/kernel/unprivileged_userns_clone", 1) == 0:
        problems.append(
            "kernel.unprivileged_userns_clone is 0 (sysctl -w kernel.unprivileged_userns_clone=1)"
        )
    if _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 0) == 1:
        problems.append(
            "AppArmor restricts unprivileged user namespaces "
            "(sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
            "or allow bwrap in an AppArmor profile)"
        )
    if problems:
        return Check("user namespaces", False, "; ".join(problems))
    return Check("user namespaces", True, "unprivileged user namespaces allowed")


def interpreter_dirs(interpreter: str = sys.executable) -> list[str]:
    """Directories the sandboxed interpreter needs (prefix, base prefix, venv), outside /usr.

    Only meaningful for the running interpreter: its prefixes are where stdlib and site-packages live.
    """
    candidates = [sys.base_prefix, sys.prefix, str(Path(interpreter).parent.parent)]
    dirs: list[str] = []
    for path in candidates:
        for variant in (os.path.abspath(path), os.path.realpath(path)):
            if variant.startswith("/usr/") or variant == "/usr":
                continue
            if not any(variant == d or variant.startswith(d + "/") for d in dirs):
                dirs = [d for d in dirs if not d.startswith(variant + "/")] + [variant]
    return dirs


def _read_int(path: str, default: int) -> int:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return default


def _output(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=10, env={})
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (proc.stdout + proc.stderr).decode(errors="replace")
