"""Service settings from environment variables (one process = one service)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client of the service connects: PLAINTEXT "
        "(no authentication), SASL_PLAINTEXT (the secured profile on loopback), SASL_SSL "
        "(production: SASL over TLS).")
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*.")
    kafka_sasl_username: str = Field("", description="Kafka principal of the service when "
                                     "the protocol is SASL_* (e.g. svc-submission).")
    kafka_sasl_password_file: str = Field("", description="Path of a file holding that "
                                          "principal's password (a mounted secret; the "
                                          "password itself is never an environment value).")
    kafka_ssl_cafile: str = Field("", description="CA bundle to verify the brokers with "
                                  "SASL_SSL; empty = the system's trust store.")
    http_host: str = Field("127.0.0.1", description="HTTP bind address.")
    http_port: int = Field(8000, description="HTTP port (health, API).")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING…).")
    topic_prefix: str = Field("hyeopchi", description="First part of every topic name; "
                                                      "separates deployments on one cluster.")

    database_url_file: str = Field("", description="Path of a file holding the database "
                                   "URL (a mounted secret); wins over DATABASE_URL.")
    ready_max_lag: int = Field(1000, description="Ready only while every consumer and "
                               "projection is at most this many records behind.")
    consumer_batch_records: int = Field(500, ge=1, le=10_000, description="Records a "
                                        "consumer fetches and applies in one transaction "
                                        "(one inbox query, one commit, one offset commit).")
    shutdown_grace_s: float = Field(20.0, description="Seconds SIGTERM may take to finish "
                                    "in-flight work and flush the outbox.")
    traces_exporter: str = Field("none", description="OpenTelemetry span exporter: none, "
                                 "console, file:PATH (one JSON line per span) or otlp. "
                                 "Apart from it, spans go to an OTLP collector (gRPC) "
                                 "whenever the standard OTEL_EXPORTER_OTLP_ENDPOINT or "
                                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (or "
                                 "OTEL_TRACES_EXPORTER=otlp); the exporter reads the "
                                 "other OTEL_EXPORTER_OTLP_* variables (headers, "
                                 "insecure, timeout), and OTEL_SERVICE_NAME / "
                                 "OTEL_RESOURCE_ATTRIBUTES name the resource "
                                 "(service.name defaults to the service's own name).")

    auth_jwks_file: str = Field("", description="JWKS file with the single sign-on's "
                                "public keys; empty = no token is accepted (fail closed).")
    auth_issuer: str = Field("seoul-sso", description="Required `iss` of bearer tokens.")
    auth_audience: str = Field("hyeopchi", description="Required `aud` of bearer tokens.")

    # The trust boundary: commands and dead letters are not evidence and do not outlive
    # their use; time is the broker's; bodies are bounded before they are parsed.
    commands_retention_ms: int = Field(7 * 86_400_000, ge=1, description="How long the "
                                       "commands and ingress topics keep a record (tokens "
                                       "and inputs are not evidence; the events are).")
    dead_letter_retention_ms: int = Field(30 * 86_400_000, ge=1, description="How long a "
                                          "dead-letter topic keeps a parked record.")
    token_clock_skew_s: int = Field(30, ge=0, le=300, description="Allowed difference "
                                    "between the SSO's and the broker's clocks when a "
                                    "command's token is judged at its append time.")
    command_token_max_lifetime_s: int = Field(900, ge=1, description="A Kafka command's "
                                              "token may live at most this long (exp - iat): "
                                              "a copied token is soon worthless.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest HTTP request body "
                                "or Kafka command record accepted, in bytes (413 / dead "
                                "letter beyond it; whitespace counts).")
    personal_data_kek_file: str = Field("", description="Path of a JSON file (a mounted "
                                        "secret) with the key-encryption keys that wrap "
                                        "each person's data key: {\"active\": ID, \"keys\": "
                                        "{ID: base64 of 32 bytes}}. The committee service "
                                        "refuses to seal or open personal data without it.")

    def database(self) -> str:
        if self.database_url_file:
            return Path(self.database_url_file).read_text().strip()
        if self.database_url:
            return self.database_url
        RUN_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{RUN_DIR / self.service_name}.db"
