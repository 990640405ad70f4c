"""Mount the web console on the API app: its pages under ``/console``."""

from __future__ import annotations

from fastapi import FastAPI

from vpp.console import enterprise, operator, settlement, web


def install_console(app: FastAPI) -> None:
    """Add the console's pages (sign-in, operator, enterprise, settlement) to ``app``."""
    for module in (web, operator, settlement, enterprise):
        app.include_router(module.router)
