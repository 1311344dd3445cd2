"""Routing: encode a turn, classify it, pick a model. Pure logic: no network, no terminal."""
