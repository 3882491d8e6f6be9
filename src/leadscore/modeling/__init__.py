"""Audit, compare, train and calibrate lead models."""
