"""Verification and filtering of produced pairs: named checks now; dedup, decontamination and judging later."""
