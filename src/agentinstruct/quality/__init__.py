"""Verification and filtering of produced pairs.

Named per-pair checks live in `checks`; verifiable instruction constraints (and the `constraints` check)
in `constraints`; dedup, decontamination and judging belong here too.
"""

from agentinstruct.quality import agreement as agreement  # registers key, agreement and label-set checks
from agentinstruct.quality import citations as citations  # registers "citations_grounded"
from agentinstruct.quality import code_prose as code_prose  # registers "code_discussed"
from agentinstruct.quality import constraints as constraints  # registers the "constraints" check
from agentinstruct.quality import execution as execution  # registers "code_runs_tests", "unique_solution"
from agentinstruct.quality import forms as forms  # registers "in_verse", "kept_text"
from agentinstruct.quality import grounding as grounding  # registers grounding and arithmetic checks
from agentinstruct.quality import web as web  # registers "element_ids_exist" and "actions_well_formed"
