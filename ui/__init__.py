"""The Gradio front end: layout.py builds the page, handlers.py answers its events and
api.py the public API's, with sources.py (the input, uploads, result folders), inputs.py
(the form's values as Settings), jobs.py (running a job) and report.py (progress and
outcome texts); status.py draws the device panel, i18n.py holds every text in English and
Korean."""
from .layout import PAGE_CSS, build_demo, page_translations

__all__ = ["PAGE_CSS", "build_demo", "page_translations"]
