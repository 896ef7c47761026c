"""Verification and filtering of produced pairs.

Named per-pair checks live in `checks`; dedup, decontamination and judging belong here too.
"""
