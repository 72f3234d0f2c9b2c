"""Pytest plugins of the suite, registered once in ``tests/conftest.py`` (``pytest_plugins``)."""
