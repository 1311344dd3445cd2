"""Providers: one small module per wire format, plus the shared error taxonomy."""
