"""The Kafka security settings and what every client is given from them."""

import pytest
from faust.types.auth import SASLMechanism

from app.kafka_clients import client_options, faust_credentials
from app.settings import Settings, SettingsError

SASL_SSL = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "orders-app", "KAFKA_SASL_PASSWORD": "s3cret"}


def test_plaintext_is_the_default_and_gives_no_credentials():
    settings = Settings()
    assert client_options(settings) == {"bootstrap_servers": "127.0.0.1:9092",
                                        "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_gives_every_client_the_mechanism_the_user_and_a_tls_context():
    settings = Settings.from_env({**SASL_SSL, "KAFKA_BOOTSTRAP": "k1:9093"})
    options = client_options(settings)
    assert (options["security_protocol"], options["sasl_mechanism"],
            options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SASL_SSL", "SCRAM-SHA-512", "orders-app", "s3cret")
    assert options["ssl_context"] is not None
    credentials = faust_credentials(settings)
    assert (credentials.username, credentials.mechanism) == ("orders-app", SASLMechanism.SCRAM_SHA_512)
    assert credentials.ssl_context is not None


@pytest.mark.parametrize("environ, said", [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS'"),
    ({**SASL_SSL, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM='GSSAPI'"),
    ({**SASL_SSL, "KAFKA_SASL_PASSWORD": ""}, "set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c.pem"}, "go together"),
])
def test_settings_that_cannot_work_are_refused_naming_the_variable(environ, said):
    with pytest.raises(SettingsError, match=said.replace("(", r"\(")):
        Settings.from_env(environ)
