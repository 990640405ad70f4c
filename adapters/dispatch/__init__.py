"""Dispatch channels: how setpoints reach devices."""
