"""uvicorn's WebSocket protocol, with one gap closed: an upgrade request websockets cannot read gets an answer.

With uvicorn's default (websockets' sans-I/O protocol), an upgrade whose headers websockets refuses to parse
(a control character in a header value, say) was neither answered nor closed: the connection stayed open
for as long as the client liked, one for every such request. Now it gets the answer websockets prepared (or a
plain 400) and is closed, as uvicorn's older websockets protocol did.

    uvicorn.run(app, ws=WebSocketProtocol)
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


def _bad_request() -> bytes:
    body = b"Failed to open a WebSocket connection: not a valid HTTP request.\n"
    return (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)) + body


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's own, except for a handshake websockets could not read."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.conn.handshake_exc is None or self.transport.is_closing():
            return
        # websockets gave up on the request (and queued a response for some of its reasons): send it, close.
        prepared = b"".join(self.conn.data_to_send())
        self.transport.write(prepared or _bad_request())
        self.transport.close()
