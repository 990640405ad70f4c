"""The bidding optimisation model, assembled from one ``define_*`` function per family.

Read :func:`build_model` top to bottom to see the whole model: every asset group adds its
variables and physics, then the park-level pieces tie them to the market.
"""

from __future__ import annotations

from bidding.model.build import build_model

__all__ = ["build_model"]
