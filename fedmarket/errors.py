"""The exception root of fedmarket.

Every package derives its own root from :class:`FedmarketError`; subclasses also inherit the
matching built-in (``ValueError``, ``LookupError``...) so callers that only know the built-ins
still catch them. The CLI maps these to exit codes in exactly one place (:mod:`fedmarket.cli`), the
REST API maps them to HTTP codes in exactly one place (``marketplace_api.api.errors``).
"""


class FedmarketError(Exception):
    """Root of every error raised on purpose by fedmarket code."""


class ConfigurationError(FedmarketError, ValueError):
    """A setting is missing, malformed or a placeholder where a real value is required."""


__all__ = ["ConfigurationError", "FedmarketError"]
