"""Market gateways: where bids go and awards come from."""
