"""Autodiff adapters: one per framework, each serving every Statistic.

Adapters import the array-API maths and the slicing layer, never the public
layer (``sigreg``, ``sigreg.stats``, ``sigreg.torch``, ``sigreg.jax``).
"""
