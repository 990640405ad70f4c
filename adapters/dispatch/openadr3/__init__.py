"""OpenADR 3.1.0 for parkvpp: a VTN (FastAPI app), its store, and a dispatch channel over it.

* :func:`create_vtn_app` builds the VTN: OAuth 2.0 client-credentials tokens (JWT) for BL and
  VEN clients, and the programs / events / reports / subscriptions / vens / resources API with
  the spec's JSON, filters, targeting and Problem errors; webhook subscriptions are notified.
* :class:`InMemoryVtnStore` holds the objects (thread-safe; a DB store can implement
  :class:`VtnStore` later).
* :class:`OpenAdrChannel` implements ``DispatchChannel``: setpoints become DISPATCH_SETPOINT
  events (kW consumption), and a VEN's report on the event confirms the asset.
* :class:`VtnServer` runs the app with uvicorn in a background thread.

The version is 3.1.0 because that is what the reference client (``openadr3-client`` 2.4,
``OADRVersion.OADR_310``) speaks by default: plain-string targets, ``/auth/server`` discovery.
"""

from adapters.dispatch.openadr3.auth import ClientCredential, Principal, Role
from adapters.dispatch.openadr3.channel import OpenAdrChannel, OpenAdrTarget, consumption_kw
from adapters.dispatch.openadr3.server import VtnServer
from adapters.dispatch.openadr3.store import Change, InMemoryVtnStore, VtnStore
from adapters.dispatch.openadr3.vtn import create_vtn_app
from adapters.dispatch.openadr3.webhooks import WebhookNotifier

__all__ = [
    "Change",
    "ClientCredential",
    "InMemoryVtnStore",
    "OpenAdrChannel",
    "OpenAdrTarget",
    "Principal",
    "Role",
    "VtnServer",
    "VtnStore",
    "WebhookNotifier",
    "consumption_kw",
    "create_vtn_app",
]
