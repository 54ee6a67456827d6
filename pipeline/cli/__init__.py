"""The command lines, one module each: `main` (one video, and the dispatch), `batch` (many
videos, local workers or Ray), `live` (a camera or stream); `args` holds the flags they share."""
from .args import build_parser
from .main import main

__all__ = ["build_parser", "main"]
