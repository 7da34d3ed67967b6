"""Tests of the reference loop, its guards and probes, and `auditor train`."""
