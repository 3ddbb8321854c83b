"""What pipecat logs reaches our log at the level an operator should act on."""

from __future__ import annotations

import logging

import pytest
from loguru import logger

from hotline.logs import route_pipecat


@pytest.fixture
def pipecat_records(caplog):
    route_pipecat()  # as the app factory leaves it, for the whole process
    caplog.set_level(logging.DEBUG, logger="pipecat")
    return caplog


def levels(caplog) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name.startswith("pipecat")]


def test_a_caller_who_drops_the_socket_while_we_close_it_is_no_error(pipecat_records):
    # uvicorn's ClientDisconnected has no text, so pipecat's line ends at the colon.
    logger.error("<FastAPIWebsocketClient object at 0x7f> exception while closing the websocket: ")
    assert levels(pipecat_records) == [
        ("INFO", "<FastAPIWebsocketClient object at 0x7f> exception while closing the websocket: ")]


def test_a_close_that_fails_for_a_reason_stays_an_error(pipecat_records):
    logger.error("<client> exception while closing the websocket: Cannot call 'send' once a close message has been sent")
    assert [level for level, _ in levels(pipecat_records)] == ["ERROR"]


def test_pipecat_chatter_below_warning_never_reaches_the_log(pipecat_records):
    logger.debug("TranscriptionFrame text: 'my name is ...'")
    assert levels(pipecat_records) == []
