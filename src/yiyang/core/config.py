"""Configuration from environment variables (prefix ``YIYANG_``); see docs/configuration.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIYANG_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{Path.cwd() / 'var' / 'yiyang.db'}"
    secret_key: str = "dev-only-change-me"
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    session_hours: int = 12
    api_token_hours: int = 24 * 30
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    db_pool_size: int = 10
    log_sql: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
