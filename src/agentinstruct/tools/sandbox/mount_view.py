"""A private mount namespace that lets an unprivileged uid reach the interpreter (root mode only).

Why it exists: bwrap runs as the unprivileged slot uid, and bind-mount sources must be reachable by
that uid. An interpreter under a private directory (pyenv in /root, a venv in a 0700 home) is not:
`--ro-bind-fd` does not help, bwrap re-resolves the fd's path. So, as root and once per sandbox, we
create a mount namespace that is private to us, mount a small tmpfs over an empty, world-traversable
staging directory and bind each interpreter directory into it. The host's mount table never changes.
We keep the namespace alive with an nsfs file descriptor and enter it for each run with
`nsenter --mount=/proc/<our pid>/fd/<fd>`, which also drops to the slot uid/gid with no groups.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agentinstruct.tools.sandbox.base import SandboxUnavailable

STAGING_DIR = Path("/run/agentinstruct-sandbox/view")

# Runs as root inside the fresh private mount namespace created by `unshare --mount`.
_SETUP_SCRIPT = r"""
set -e
stage=$1; shift
mount -t tmpfs -o mode=0755,size=64k agentinstruct-view "$stage"
i=0
for src in "$@"; do
  mkdir "$stage/$i"
  mount --rbind "$src" "$stage/$i"
  i=$((i + 1))
done
echo ready
exec cat >/dev/null
"""


class InterpreterMountView:
    """Interpreter directories exposed under `STAGING_DIR/<n>` inside a private mount namespace."""

    def __init__(self, sources: list[str], *, unshare: str, staging_dir: Path = STAGING_DIR):
        self.sources = list(sources)
        self.staging_dir = staging_dir
        self._ns_fd = self._create(unshare)

    def staged_path(self, source: str) -> str:
        """Where `source` appears inside the namespace."""
        return str(self.staging_dir / str(self.sources.index(source)))

    def nsenter_argv(self, nsenter: str, uid: int, gid: int) -> list[str]:
        """`nsenter` entering the namespace and dropping to uid/gid with no supplementary groups."""
        if self._ns_fd < 0:
            raise SandboxUnavailable("the interpreter mount view was closed; create a new sandbox")
        ns_path = f"/proc/{os.getpid()}/fd/{self._ns_fd}"
        return [nsenter, f"--mount={ns_path}", "-S", str(uid), "-G", str(gid), "--"]

    def close(self) -> None:
        """Release the namespace (it disappears once no sandbox still runs in it)."""
        if self._ns_fd >= 0:
            os.close(self._ns_fd)
            self._ns_fd = -1

    def _create(self, unshare: str) -> int:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.staging_dir, 0o755)
        os.chmod(self.staging_dir.parent, 0o755)
        argv = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _SETUP_SCRIPT, "sh"]
        holder = subprocess.Popen(
            [*argv, str(self.staging_dir), *self.sources],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        try:
            assert holder.stdout is not None
            if holder.stdout.readline().strip() != b"ready":
                holder.wait(timeout=10)
                reason = holder.stderr.read().decode(errors="replace").strip() if holder.stderr else ""
                raise SandboxUnavailable(
                    "cannot create the private mount namespace for the interpreter "
                    f"({reason or 'no output'}); the sandbox needs root with CAP_SYS_ADMIN, "
                    "or run agentinstruct as an unprivileged user"
                )
            return os.open(f"/proc/{holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            if holder.stdin:
                holder.stdin.close()
            holder.wait(timeout=10)
            for stream in (holder.stdout, holder.stderr):
                if stream:
                    stream.close()
