"""Government-purchased services (政府购买服务): subsidy policies, monthly allocations with expiry
and carry-over, a double-entry ledger that pays confirmed orders subsidy-first, and settlement."""
