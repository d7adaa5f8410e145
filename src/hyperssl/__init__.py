"""hyperssl: self-supervised representation learning on the hypersphere."""

from hyperssl.errors import ConfigError

__version__ = "0.1.0"
__all__ = ["ConfigError", "__version__"]
