"""Jietiao notify service."""
