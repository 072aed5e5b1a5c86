"""Code shared by the Stook installer and the node agent."""

__version__ = "0.1.0"
