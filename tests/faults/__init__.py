"""Fault injection against a real ``leadscore serve`` process (issue 19).

A package, so that the test modules can import the helpers of ``faults.conftest``.
"""
