"""A Salesforce org emulator that the unmodified simple-salesforce client cannot tell from an org."""

from leadflow_sf_emulator.app import create_app
from leadflow_sf_emulator.settings import EmulatorSettings

__all__ = ["EmulatorSettings", "create_app"]
