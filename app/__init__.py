"""facematch: a self-hosted face matching REST service."""

__version__ = "0.1.0"
