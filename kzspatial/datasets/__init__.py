"""The real data: registry and cached fetch, region catalogue and resolver, loaders.

Builds on the core and the geo adapters; everything it returns is indexed by the
region codes of :mod:`kzspatial.datasets.regions`.
"""
