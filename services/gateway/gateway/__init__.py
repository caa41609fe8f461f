"""Jietiao gateway service."""
