"""WebSocket transports behind one small Protocol; adapters are imported lazily."""

from __future__ import annotations

from ._base import ConnectRequest, FastTransport, Transport, TransportClosed, TransportFactory

__all__ = [
    "ConnectRequest",
    "FastTransport",
    "Transport",
    "TransportClosed",
    "TransportFactory",
    "select_transport",
]


def select_transport(name: str | TransportFactory | None) -> TransportFactory:
    """Pick the transport factory for ``transport=``: a name, a factory, or the default.

    ``"websockets"`` (the default) runs on every AnyIO backend, Trio and asyncio;
    ``"trio-websocket"`` runs on Trio only.

    Raises:
        ValueError: an unknown transport name.
        ConnectError: the transport cannot run on the current async library.
    """
    if callable(name):
        return name
    if name in (None, "websockets"):
        from ._websockets import open_websockets

        return open_websockets
    if name == "trio-websocket":
        import sniffio

        if sniffio.current_async_library() != "trio":
            from .._errors import ConnectError

            raise ConnectError(
                "the trio-websocket transport runs on Trio only; this is "
                f"{sniffio.current_async_library()}. Use transport='websockets' (the "
                "default), which runs on asyncio and Trio, or run under trio.run() or "
                "anyio.run(..., backend='trio')"
            )
        from ._trio_websocket import open_trio_websocket

        return open_trio_websocket
    raise ValueError(
        f"unknown transport {name!r}: expected 'websockets', 'trio-websocket' or a factory"
    )
