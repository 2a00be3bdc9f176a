"""Service settings from environment variables (one process = one service)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RUN_DIR = Path(".run")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = Field("service", description="Name in logs and Kafka client ids.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite file "
                                              ".run/<service>.db (the embedded default).")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092",
                                         description="Kafka bootstrap servers.")
    http_host: str = Field("127.0.0.1", description="HTTP bind address.")
    http_port: int = Field(8000, description="HTTP port (health, API).")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING…).")
    topic_prefix: str = Field("hyeopchi", description="First part of every topic name; "
                                                      "separates deployments on one cluster.")

    def database(self) -> str:
        if self.database_url:
            return self.database_url
        RUN_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{RUN_DIR / self.service_name}.db"
