"""moe-console: a terminal console for serving Mixture-of-Experts models."""

__version__ = "0.1.0"
