"""The one error of the configuration."""


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid."""
