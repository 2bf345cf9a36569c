"""Vereda: an offline-first diagnosis aid for rural clinics."""

__version__ = "0.1.0"
