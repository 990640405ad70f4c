"""Serve the VTN with uvicorn in a background thread: for tests, the demo and local runs.

``VtnServer(app).start()`` waits until uvicorn serves; ``stop()`` runs the app's lifespan
shutdown (closing the webhook notifier) and joins the thread. See :mod:`adapters.asgi_server`.
"""

from __future__ import annotations

from fastapi import FastAPI

from adapters.asgi_server import ThreadedServer


class VtnServer(ThreadedServer):
    """The VTN app served in a daemon thread; :attr:`base_url` is where VENs reach it."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(app, host, port, lifespan="on", name="vtn")

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server."""
        return self.url
