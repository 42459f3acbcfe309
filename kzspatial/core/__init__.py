"""Numerical core: region ids plus numpy arrays and scipy sparse matrices in, results out.

Imports only numpy, scipy and the standard library (numba lazily, for the flow Moran
kernel); checked by the import contracts in ``pyproject.toml``.
"""
