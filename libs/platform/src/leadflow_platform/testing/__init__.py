"""Test helpers shared by every service's tests (loaded as a pytest plugin by the root conftest)."""
