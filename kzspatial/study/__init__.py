"""The Kazakhstan study.

The analyses of the 2010-2024 OD data and the pipeline of ``kzspatial run``; the CLI
is a thin layer on top.
"""
