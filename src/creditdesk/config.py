"""Settings read from the environment (``CREDITDESK_*``) with documented defaults."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "settings"]


class Settings(BaseSettings):
    """``CREDITDESK_STORE`` (store URL), ``CREDITDESK_CATALOGUE`` (product TOML),
    ``CREDITDESK_JURISDICTION`` (contact-rule profile)."""

    model_config = SettingsConfigDict(env_prefix="CREDITDESK_")

    store: str = "duckdb:///./creditdesk.duckdb"
    catalogue: str | None = None
    jurisdiction: str = "CN"


def settings() -> Settings:
    return Settings()
