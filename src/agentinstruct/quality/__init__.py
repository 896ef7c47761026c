"""Verification and filtering of produced pairs.

Named per-pair checks live in `checks`; verifiable instruction constraints (and the `constraints` check)
in `constraints`; dedup, decontamination and judging belong here too.
"""

from agentinstruct.quality import constraints as constraints  # registers the "constraints" check
