"""Check-in tasks (issue #16, the graded response): a home unusually quiet but not alarming asks
a community worker to call the elder, instead of an alarm in the operator queue. The first piece
of the care network (docs/checkins.md)."""
