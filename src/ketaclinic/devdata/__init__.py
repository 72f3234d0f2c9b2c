"""Invented data for development, demos, tests and benchmarks: ``ketaclinic demo`` and ``seed``.

It writes every app's tables, so it sits above them all and no product app imports it (``serve``
only reads the demo log-ins to print them in demo mode).
"""
