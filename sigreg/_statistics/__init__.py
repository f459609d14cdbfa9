"""The statistics: the registry, then one family per module. Array-API maths on ``xp``;
imports only ``sigreg._core`` (tests/test_layering.py).
"""
