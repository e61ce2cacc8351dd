"""The audit trail's table is defined in ``core.audit_models`` (core writes it); the audit
domain reads it under this name."""

from yiyang.core.audit_models import AuditEvent

__all__ = ["AuditEvent"]
