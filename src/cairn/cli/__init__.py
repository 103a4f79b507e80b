"""Thin command-line front end; only ``output`` prints."""
