"""The configuration layer: ``app.yaml`` -> a validated, immutable :class:`AppConfig`.

A bad file is refused at start with every problem listed as ``key.path: reason``
(see :class:`ConfigError`); docs/configuration.md describes each key.
"""

from bot.config.durations import format_duration, parse_duration
from bot.config.errors import ConfigError, Problem
from bot.config.loader import load_config, load_config_text
from bot.config.model import AppConfig, Digest, PolicyArea, Severity, Vendor
from bot.config.roster import Calendar, Hours, Member, Pod, Rotation
from bot.config.summary import config_summary

__all__ = [
    "AppConfig",
    "Calendar",
    "ConfigError",
    "Digest",
    "Hours",
    "Member",
    "Pod",
    "PolicyArea",
    "Problem",
    "Rotation",
    "Severity",
    "Vendor",
    "config_summary",
    "format_duration",
    "load_config",
    "load_config_text",
    "parse_duration",
]
