"""Monitoring: how scores, inputs and outcomes move over time."""
