"""The resource types the API serves, each mapped from the record in its own module; the
registry (``REGISTRY``) is what the views, the CapabilityStatement and the tests walk."""
