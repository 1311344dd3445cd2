"""kilocli: a terminal coding assistant that routes each request to the cheapest adequate model."""

__version__ = "0.1.0"
