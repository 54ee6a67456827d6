"""The Gradio front end: layout.py builds the page, handlers.py answers its events,
status.py draws the device panel."""
from .layout import PAGE_CSS, build_demo

__all__ = ["PAGE_CSS", "build_demo"]
