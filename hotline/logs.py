"""Logging for the whole process: one format, and nothing personal in it.

Our own log lines name calls by id and faults by kind, never what was said. Two libraries need help to keep it so:
pipecat logs through loguru, at DEBUG by default and with frames (transcriptions included) in the text, so loguru
is routed into `logging` at WARNING; uvicorn's access log carries the query string, where a staff member's
search of the transcripts would show, so only the path is kept; and websockets writes every frame (a typed
question, a callback form) at DEBUG, so its loggers never go below INFO, whatever the root level.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PIPECAT_LEVEL = "WARNING"
# Libraries that put message contents into DEBUG lines; uvicorn hands its websockets protocol "uvicorn.error".
CONTENT_AT_DEBUG = ("websockets", "uvicorn.error", "uvicorn.protocols")


def configure(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT, stream=sys.stderr)
    keep_contents_out()


def keep_contents_out() -> None:
    """The library settings of this module's docstring; idempotent (the app factory calls it too)."""
    route_pipecat()
    for name in CONTENT_AT_DEBUG:
        logging.getLogger(name).setLevel(logging.INFO)
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO)
    if not any(isinstance(f, PathOnly) for f in access.filters):
        access.addFilter(PathOnly())


def route_pipecat(level: str = PIPECAT_LEVEL) -> None:
    """pipecat's loguru messages of `level` and above go to the `pipecat` logger; nothing below is formatted."""
    from loguru import logger

    logger.remove()
    logger.add(_to_logging, level=level, format="{message}")


# pipecat's transport reports, at ERROR, the exception that ends its receive loop; for a message our serializer
# refused (`telephony.protocol.MalformedMessage`) that is no fault of ours, and the serializer has already said
# why in its own warning. Those lines are kept at INFO.
_REFUSED_BY_US = "exception receiving data: MalformedMessage"
# When the caller's side drops the socket while we close it, uvicorn raises its ClientDisconnected, which has no
# text: pipecat logs "exception while closing the websocket: " with nothing after it. Both sides wanted the socket
# closed, so that is INFO too; a close that fails with a reason stays an ERROR.
_PEER_GONE_AT_CLOSE = "exception while closing the websocket: "


def _to_logging(message) -> None:
    record = message.record
    level = record["level"].no
    text = record["message"]
    if _REFUSED_BY_US in text or text.endswith(_PEER_GONE_AT_CLOSE):
        level = logging.INFO
    # loguru's levels are logging's numbers (WARNING 30, ERROR 40); its own SUCCESS (25) and TRACE (5) map near.
    name = record["name"] or "pipecat"  # the module, "pipecat.transports..."
    logging.getLogger(name if name.startswith("pipecat") else f"pipecat.{name}").log(
        level, "%s", record["message"].splitlines()[0] if record["message"] else "")


class PathOnly(logging.Filter):
    """uvicorn's access record has args (client, method, path with query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True
