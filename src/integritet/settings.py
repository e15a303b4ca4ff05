"""Configuration from the environment (``INTEGRITET_*``), typed and failing fast."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, with its environment variable ``INTEGRITET_<NAME>``.

    - ``home``: where the SQLite database, key file and signing key live.
    - ``database_url``: any SQLAlchemy URL; default a SQLite file in ``home``.
    - ``policy``: the manifest every command uses unless ``--policy`` is given.
    - ``kek``: the key-encryption key (base64, 32 bytes) instead of the key file.
    - ``smtp_*``: the mail server used for codes, notices and processor emails.
    - ``privacy_contact``: an address for ``mailto:`` in every email's ``List-Unsubscribe``
      (default: the manifest controller's DPO or contact email where the manifest is known).
    """

    model_config = SettingsConfigDict(env_prefix="INTEGRITET_", extra="ignore")

    home: Path = Path(".integritet")
    database_url: str | None = None
    policy: Path = Path("policy.yaml")
    kek: SecretStr | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "integritet@localhost"
    base_url: str = "http://127.0.0.1:8000"
    privacy_contact: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'integritet.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.home / "keys.json"


def get_settings() -> Settings:
    return Settings()
