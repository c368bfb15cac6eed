"""Compiler passes, one per module; each takes and returns gast trees (see srcdiff.compiler)."""
