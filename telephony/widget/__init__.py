"""The browser voice widget: one script tag puts the hotline on any web page (see `router`).

`WidgetConfig` imports nothing but pydantic, so `hotline.settings` may use it for a `widget:` section; the
router (FastAPI, the dialogue) loads only when it is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telephony.widget.config import WidgetConfig

if TYPE_CHECKING:
    from telephony.widget.router import create_widget_router

__all__ = ["WidgetConfig", "create_widget_router"]


def __getattr__(name: str) -> Any:
    if name == "create_widget_router":
        from telephony.widget.router import create_widget_router

        return create_widget_router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
