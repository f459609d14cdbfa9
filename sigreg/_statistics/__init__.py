"""The statistics: the registry, then one family per module. Array-API maths on ``xp``;
imports only ``sigreg._core`` (tests/project/test_layering.py).
"""
