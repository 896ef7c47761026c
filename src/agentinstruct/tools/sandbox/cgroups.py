"""Optional cgroup v2 memory/pids limits per run, used when /sys/fs/cgroup is a writable cgroup2 mount.

Each run gets `<root>/agentinstruct-sandbox/run-<uid>-<n>` with memory.max, memory.swap.max and
pids.max. The launcher enters it before anything forks (a root `sh` stage writes its own pid to
cgroup.procs and then execs the rest), and the whole group is killed and removed after the run.
When cgroups are unusable the rlimits still apply; `unavailable_reason` says why for `check`.
"""

from __future__ import annotations

import errno
import itertools
import os
import time
from pathlib import Path

from agentinstruct.tools.sandbox.policy import SandboxLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT_NAME = "agentinstruct-sandbox"
REQUIRED_CONTROLLERS = ("memory", "pids")

# Placed in front of the launch chain: join the cgroup named by $0, then exec the remaining argv.
JOIN_STAGE = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"']


class CgroupLimiter:
    """Creates, enters and removes per-run cgroups under `root` (a cgroup2 mount)."""

    def __init__(self, limits: SandboxLimits, root: Path = CGROUP_ROOT):
        self.limits = limits
        self.root = root
        self.parent = root / PARENT_NAME
        self._counter = itertools.count()
        self.unavailable_reason = self._probe()

    @property
    def available(self) -> bool:
        """True when per-run cgroups will be used."""
        return self.unavailable_reason is None

    def create(self, uid: int) -> Path | None:
        """A fresh cgroup for one run with the limits written, or None when cgroups are unavailable."""
        if not self.available:
            return None
        group = self.parent / f"run-{uid}-{os.getpid()}-{next(self._counter)}"
        group.mkdir()
        (group / "memory.max").write_text(str(self.limits.cgroup_memory_bytes))
        if (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(self.limits.processes + 4))
        return group

    def join_argv(self, group: Path | None) -> list[str]:
        """The argv prefix that moves the launch chain into `group` (nothing without a group)."""
        return [] if group is None else [*JOIN_STAGE, str(group / "cgroup.procs")]

    def destroy(self, group: Path | None) -> None:
        """Kill whatever is left in `group` and remove it."""
        if group is None:
            return
        kill_file = group / "cgroup.kill"
        if kill_file.exists():
            kill_file.write_text("1")
        for _ in range(100):
            try:
                group.rmdir()
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:  # gone already, or not a cgroup: nothing to wait for
                    return
                time.sleep(0.01)  # the killed processes are still exiting

    def _probe(self) -> str | None:
        controllers_file = self.root / "cgroup.controllers"
        if not controllers_file.exists():
            return f"{self.root} is not a cgroup v2 mount"
        if os.geteuid() != 0 or not os.access(self.root, os.W_OK):
            return f"{self.root} is not writable by this process"
        controllers = controllers_file.read_text().split()
        missing = [name for name in REQUIRED_CONTROLLERS if name not in controllers]
        if missing:
            return f"cgroup controllers {missing} are not enabled at {self.root}"
        enable = " ".join(f"+{name}" for name in REQUIRED_CONTROLLERS)
        try:
            self.parent.mkdir(exist_ok=True)
            parent_controllers = self.parent / "cgroup.controllers"
            if not set(REQUIRED_CONTROLLERS) <= set(parent_controllers.read_text().split()):
                (self.root / "cgroup.subtree_control").write_text(enable)
            (self.parent / "cgroup.subtree_control").write_text(enable)
        except OSError as exc:
            return f"cannot set up {self.parent}: {exc}"
        return None
