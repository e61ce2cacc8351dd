"""Deterministic demo data: a plausible district, its elders and a user for every role."""
