"""The one exception a broken config raises: every problem as one readable line, never a traceback."""

from __future__ import annotations


class ConfigError(Exception):
    """Everything wrong with a config, one readable line per problem (no traceback for installers)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)
