"""Authentication events written to the audit trail (issue 15 item 4)."""
