"""The Stook installer: Textual TUI and unattended mode over one install engine."""

__version__ = "0.1.0"
