"""The append-only audit trail (全程留痕)."""
