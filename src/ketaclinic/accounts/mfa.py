"""The second factor: enrolment, the admin reset, and its audit events (issue 15 item 1)."""
