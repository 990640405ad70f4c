"""Serve an ASGI app with uvicorn in a background thread: the VTN, the loopback exchange.

The socket is bound when the object is made (``port=0`` picks a free port), so :attr:`url` is
known before :meth:`start`, and there is no find-then-bind race. :meth:`start` returns once
uvicorn accepts connections; :meth:`stop` asks it to exit (running the app's lifespan shutdown
when ``lifespan="on"``), forces it after ``timeout_s``, joins the thread and frees the port.
WebSocket support is off: these apps have no WebSocket routes, and it keeps the ``websockets``
package's deprecation warnings out of the process.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Self

import uvicorn
from fastapi import FastAPI

from vpp.domain.errors import AdapterError


class ThreadedServer:
    """One app served by uvicorn in a daemon thread; a context manager."""

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lifespan: Literal["on", "off"] = "on",
        before_stop: Callable[[], None] | None = None,
        name: str = "asgi",
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise AdapterError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                hint="is another process using the port? choose another one",
            ) from exc
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan=lifespan, ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._before_stop = before_stop
        self._name = name

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> Self:
        """Start serving; return once the server accepts connections."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"{self._name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AdapterError(
                    f"the {self._name} server on {self.url} did not start",
                    hint="see the uvicorn log above",
                )
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._before_stop is not None:
            self._before_stop()
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout_s)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
