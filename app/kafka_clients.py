"""How every Kafka client of this project connects: one place that turns the settings into
aiokafka's options (`client_options`) and Faust's broker credentials (`faust_credentials`), and
checks them before a worker starts (`check_access`), so a wrong password or an untrusted
certificate stops it with one line instead of a retry loop.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from typing import Any

import faust
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError, KafkaConnectionError, SaslAuthenticationFailed,
)
from aiokafka.helpers import create_ssl_context
from faust.types.auth import AuthProtocol, SASLMechanism

from app.settings import Settings


class KafkaAccessError(RuntimeError):
    """The cluster refuses these credentials, or this client does not trust its certificate: one
    line that says which."""


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


def options_for(bootstrap: str) -> dict[str, Any]:
    """`client_options` of the environment's settings for the cluster at `bootstrap`: for the
    load generator and the benchmarks, which are told where the cluster is."""
    return client_options(replace(Settings.from_env(), kafka_bootstrap=bootstrap))


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
    """Connect to the first bootstrap server as every client will. Credentials the cluster
    refuses, or a certificate this client does not trust, raise KafkaAccessError (aiokafka's
    own bootstrap would only log them and retry); a server that cannot be reached is left to the
    clients, which wait for it."""
    who = (f" as {settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism})"
           if settings.kafka_security_protocol.startswith("SASL_") else "")
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    where = f"Kafka at {host}:{port} over {settings.kafka_security_protocol}{who}"
    options = {k: v for k, v in client_options(settings).items() if k != "bootstrap_servers"}
    try:
        connection = await create_conn(
            host, int(port), request_timeout_ms=int(timeout_s * 1000), **options)
    except ssl.SSLCertVerificationError as error:
        raise KafkaAccessError(
            f"cannot reach {where}: its certificate is not trusted ({error.verify_message}); "
            "is KAFKA_SSL_CAFILE the CA that signed it?") from None
    except ssl.SSLError as error:
        raise KafkaAccessError(f"cannot reach {where}: TLS failed ({error.reason or error})") from None
    except (SaslAuthenticationFailed, AuthenticationFailedError) as error:
        raise KafkaAccessError(
            f"{where} refused the credentials: {error} (check KAFKA_SASL_USERNAME and "
            "KAFKA_SASL_PASSWORD)") from None
    except (OSError, KafkaConnectionError, asyncio.TimeoutError):
        return  # not up yet: the clients wait for it
    connection.close()


def _path(path: Any) -> str | None:
    return None if path is None else str(path)
