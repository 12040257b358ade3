"""(Work in progress, issue 18 part 2: `check_access` is not wired in nor tried against a secured
broker yet.)

How every Kafka client of this project connects: one place that turns the settings into
aiokafka's options (`client_options`) and Faust's broker credentials (`faust_credentials`), and
checks them before a worker starts (`check_access`), so a wrong password or an untrusted
certificate stops it with one line instead of a retry loop.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.helpers import create_ssl_context
from faust.types.auth import AuthProtocol, SASLMechanism

from app.settings import Settings


class KafkaAccessError(RuntimeError):
    """The cluster cannot be reached or refuses these credentials: one line that says which."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_uses_ssl:
        return None
    return create_ssl_context(
        cafile=_path(settings.kafka_ssl_cafile), certfile=_path(settings.kafka_ssl_certfile),
        keyfile=_path(settings.kafka_ssl_keyfile))


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments every aiokafka client of this project gets."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_uses_ssl:
        options["ssl_context"] = ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    return options


def faust_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """Faust's `broker_credentials` for the same settings (None: PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
            mechanism=SASLMechanism(settings.kafka_sasl_mechanism),
            ssl_context=ssl_context(settings))
    if protocol == AuthProtocol.SSL.value:
        return faust.SSLCredentials(ssl_context(settings))
    return None


async def check_access(settings: Settings, timeout_s: float = 30.0) -> None:
    """Connect as every client will, and list the topics; KafkaAccessError says what failed."""
    who = (f" as {settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism})"
           if settings.kafka_security_protocol.startswith("SASL_") else "")
    where = f"Kafka at {settings.bootstrap_servers} over {settings.kafka_security_protocol}{who}"
    admin = AIOKafkaAdminClient(
        **client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await admin.start()
        await admin.list_topics()
    except ssl.SSLError as error:
        raise KafkaAccessError(f"cannot reach {where}: TLS failed ({error.reason or error}); "
                               "is KAFKA_SSL_CAFILE the CA of the brokers' certificates?") from None
    except KafkaConnectionError as error:
        raise KafkaAccessError(f"cannot reach {where}: {error}") from None
    except KafkaError as error:
        raise KafkaAccessError(f"{where} refused this client: {type(error).__name__}: {error}"
                               " (check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)") from None
    finally:
        await admin.close()


def _path(path: Any) -> str | None:
    return None if path is None else str(path)
