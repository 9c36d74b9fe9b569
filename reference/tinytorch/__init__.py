"""TinyTorch: a machine-learning framework built from NumPy, one module at a time.

The package imports nothing eagerly, so a student repository that holds only the
modules released so far imports cleanly: ``from tinytorch.core.tensor import Tensor``.
"""

__version__ = "0.1.0"
