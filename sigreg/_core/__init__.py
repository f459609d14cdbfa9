"""The framework-free base: the Statistic protocol, the slicing layer, plans, directions,
the normal CDF, the namespace lookup, the backend table and the argument checks.

Imports no array library and nothing above it (tests/project/test_layering.py).
"""
