"""Market data feeds: published prices and forecasts behind :class:`vpp.domain.ports.MarketDataFeed`."""
