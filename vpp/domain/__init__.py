"""The pure domain model of parkvpp.

Conventions stated once, for every layer:

Sign of power
    ``power_mw > 0`` means power flows **out of** the asset, the tenant or the park **into** the
    grid (generation, battery discharge, export, "sell"); ``power_mw < 0`` means power drawn
    **from** the grid (consumption, battery charge, import, "buy"). Columns and fields that hold
    a consumption magnitude say so in their name (``load_mw`` >= 0). Adapters convert device
    conventions to this one at the edge.

Units
    Power in MW, energy in MWh, prices in the market profile's currency per MWh
    (``price_per_mwh``), capacity prices per MW per hour (``price_per_mw_h``), durations in
    minutes unless the name says otherwise.

Time
    Timestamps are timezone-aware and stored in UTC. An interval is labelled by its **start**.
    Each market profile names its IANA timezone; a market day is a local calendar day and so has
    92, 96 or 100 quarter-hours on DST days where the zone observes DST.
"""
