"""The soak: seeded random changes applied under faults and signals (see chaos.py)."""
