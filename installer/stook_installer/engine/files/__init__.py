"""Renderers of the files an install writes into the node's persistent state, one topic each."""
