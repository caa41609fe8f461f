"""Jietiao agreements service."""
