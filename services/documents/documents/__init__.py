"""Jietiao documents service."""
