"""The method registry (``method=<name>``)."""

from hyperssl.registry import Registry

METHODS: Registry = Registry("method", "method", "hyperssl.methods", key="method")
register_method = METHODS.register
