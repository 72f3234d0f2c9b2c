"""A pytest plugin (loaded with ``-p`` from pyproject) that selects the test mode.

It must run before pytest-django imports the settings, which happens before any conftest.py is
read; a ``-p`` plugin is imported first.
"""

import os

os.environ["KETACLINIC_MODE"] = "test"
# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
# thread with a running loop unless told this is intended (live_server + page tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
