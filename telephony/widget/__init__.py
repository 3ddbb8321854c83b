"""The browser voice widget: one script tag puts the hotline on any web page (see `router`)."""

from telephony.widget.config import WidgetConfig
from telephony.widget.router import create_widget_router

__all__ = ["WidgetConfig", "create_widget_router"]
