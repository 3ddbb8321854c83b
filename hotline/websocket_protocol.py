"""uvicorn's WebSocket protocol, with two gaps closed that a stranger could use (both found by fuzzing).

- With uvicorn's default (websockets' sans-I/O protocol), an upgrade whose headers websockets refuses to parse
  (a control character in a header value, say) was neither answered nor closed: the connection stayed open
  for as long as the client liked, one for every such request. Now it gets the answer websockets prepared (or a
  plain 400) and is closed, as uvicorn's older websockets protocol did.
- A text message that is not UTF-8 closed the socket with 1007, as it should, but logged an ERROR with a
  traceback each time: a flood of log lines anyone could send. Now it is one warning line.

    uvicorn.run(app, ws=WebSocketProtocol)
"""

from __future__ import annotations

import logging

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("hotline.websocket")
INVALID_DATA = 1007


def _bad_request() -> bytes:
    body = b"Failed to open a WebSocket connection: not a valid HTTP request.\n"
    return (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)) + body


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's own, except for a handshake websockets could not read and a text message that is not UTF-8."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.conn.handshake_exc is None or self.transport.is_closing():
            return
        # websockets gave up on the request (and queued a response for some of its reasons): send it, close.
        prepared = b"".join(self.conn.data_to_send())
        self.transport.write(prepared or _bad_request())
        self.transport.close()

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                self.frames = []
                client = self.client[0] if self.client else "?"
                log.warning("websocket from %s closed: a text message that is not UTF-8 (%d)", client, INVALID_DATA)
                self.conn.send_close(INVALID_DATA)
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()
