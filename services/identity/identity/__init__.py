"""Jietiao identity service."""
