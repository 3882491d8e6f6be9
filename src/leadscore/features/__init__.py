"""Turning raw columns and events into model features."""
