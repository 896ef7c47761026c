"""Sandboxed execution of untrusted Python (the code interpreter's engine), built on bubblewrap.

Public names: `Sandbox` (interface), `BubblewrapSandbox` and its `SandboxConfig`, `SandboxLimits`,
`SandboxResult`, `SandboxUnavailable`, `default_sandbox()`. Module map: `policy` (limits and the bwrap
command), `seccomp_filter` (syscall deny-list), `mount_view` (interpreter visibility for the
unprivileged uid), `uid_pool` (one uid per concurrent run), `cgroups`, `launcher` (processes and
output), `prerequisites` and `selftest` (the canary). The agent-facing tool is in
`agentinstruct.tools.code_interpreter`.
"""

from agentinstruct.tools.sandbox.base import Sandbox, SandboxResult, SandboxUnavailable
from agentinstruct.tools.sandbox.bubblewrap import BubblewrapSandbox, SandboxConfig, default_sandbox
from agentinstruct.tools.sandbox.policy import SandboxLimits

__all__ = [
    "BubblewrapSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "default_sandbox",
]
