"""The Gradio front end: layout.py builds the page, handlers.py answers its events,
status.py draws the device panel, i18n.py holds every text in English and Korean."""
from .layout import PAGE_CSS, build_demo, page_translations

__all__ = ["PAGE_CSS", "build_demo", "page_translations"]
