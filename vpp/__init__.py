"""parkvpp: virtual power plant aggregation and market bidding for zero-carbon industrial parks."""

__version__ = "0.1.0"
