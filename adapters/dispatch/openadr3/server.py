"""Serve the VTN with uvicorn in a background thread: for tests, the demo and local runs.

``VtnServer(app).start()`` binds (port 0 picks a free port, read back from the socket, so there is
no find-then-bind race), waits until uvicorn reports it is serving, and returns the base URL.
``stop()`` asks uvicorn to exit, which runs the app's lifespan shutdown (closing the webhook
notifier), and joins the thread. The WebSocket protocol is disabled: the VTN has no WebSocket
routes and it keeps the ``websockets`` package's deprecation warnings out of the process.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from vpp.domain.errors import AdapterError


class VtnServer:
    """A uvicorn server for one app, running in a daemon thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", ws="none", lifespan="on"
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving; return the base URL. Raises AdapterError if uvicorn does not start."""
        if self._thread is not None:
            raise RuntimeError("the VTN server is already started")
        self._thread = threading.Thread(target=self._server.run, name="vtn-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AdapterError(
                    f"the VTN did not start on {self.host}:{self.port}",
                    hint="is the port free? see the uvicorn log above",
                )
            time.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.base_url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread (idempotent)."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> VtnServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
