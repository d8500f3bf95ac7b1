"""Uplinks to the cloud ingest, chosen by ``UPLINK_URL``; each sends one batch per call.

- any ``QUEUE_URL`` scheme (``postgresql://…?table=telemetry``, ``sqlite:///…``, ``sqs://``…):
  the telemetry queue itself (the local target's services host);
- ``mqtts://user:password@host:8883``: the GCP broker group, bridged to Pub/Sub
  (CA: ``UPLINK_CA_FILE``);
- ``awsiot://<account>-ats.iot.<region>.amazonaws.com``: AWS IoT Core over MQTT/TLS with the
  device certificate (``UPLINK_CERT_FILE``, ``UPLINK_KEY_FILE``);
- ``awsiot-https://[endpoint]``: AWS IoT Core's HTTPS publish API (SigV4, the host's identity);
- ``azureiot://<hub>.azure-devices.net/<device>``: Azure IoT Hub over MQTT/TLS, with a SAS token
  made from ``AZURE_IOT_DEVICE_KEY``.

A batch is ``{"gateway": id, "status": {...}, "items": [...]}`` published on
``devices/<gateway>/telemetry`` (the ingest's topic filter ``devices/+/telemetry``). Any failure
raises :class:`UplinkDown`; the caller keeps the batch in its buffer and retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ..backends.queue import Queue, open_queue
from ..backends.settings import BackendUrl, ConfigError, parse_url

QUEUE_SCHEMES = ("sqlite", "postgresql", "sqs", "pubsub", "servicebus", "azqueue")
MQTT_SCHEMES = ("mqtt", "mqtts", "awsiot", "azureiot")
SCHEMES = (*QUEUE_SCHEMES, *MQTT_SCHEMES, "awsiot-https")


class UplinkDown(Exception):
    """The batch was not accepted; it stays in the buffer."""


class Uplink(ABC):
    scheme: str = ""

    @abstractmethod
    def send(self, batch: dict[str, Any]) -> None:
        """Deliver one batch or raise UplinkDown."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""

    def connected(self) -> bool | None:
        """Whether a standing connection is up; None for uplinks without one."""
        return None


class QueueUplink(Uplink):
    """Opened on first use, and again after a failure: the queue may be down when we start."""

    def __init__(self, url: BackendUrl) -> None:
        self.url = url
        self.scheme = url.scheme
        self.queue: Queue | None = None

    def send(self, batch: dict[str, Any]) -> None:
        try:
            if self.queue is None:
                self.queue = open_queue(self.url, 5, 60)
            self.queue.send(batch)
        except ConfigError:
            raise
        except Exception as error:
            self.queue = None
            raise UplinkDown(f"{type(error).__name__}: {str(error)[:200]}") from error


def sas_token(resource: str, key_b64: str, expiry: int) -> str:
    """An Azure IoT Hub shared access signature for ``resource`` (host/devices/id)."""
    encoded = urllib.parse.quote(resource, safe="")
    signature = hmac.new(
        base64.b64decode(key_b64), f"{encoded}\n{expiry}".encode(), hashlib.sha256
    ).digest()
    sig = urllib.parse.quote(base64.b64encode(signature).decode(), safe="")
    return f"SharedAccessSignature sr={encoded}&sig={sig}&se={expiry}"


def tls_context(
    env: Mapping[str, str], prefix: str, *, client_cert: bool = False
) -> ssl.SSLContext:
    """TLS 1.2+ verifying the server with ``<prefix>_CA_FILE`` (system CAs when unset)."""
    ca = env.get(f"{prefix}_CA_FILE") or None
    try:
        context = ssl.create_default_context(cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_cert:
            cert, key = env.get(f"{prefix}_CERT_FILE"), env.get(f"{prefix}_KEY_FILE")
            if not cert or not key:
                raise ConfigError(f"{prefix}_CERT_FILE and {prefix}_KEY_FILE must be set")
            context.load_cert_chain(cert, key)
    except OSError as error:
        raise ConfigError(f"{prefix}_CA_FILE/CERT_FILE: cannot read ({error})") from None
    return context


class MqttLink:
    """A paho client that connects in the background and reports whether it is connected."""

    def __init__(
        self,
        url: BackendUrl,
        client_id: str,
        env: Mapping[str, str],
        prefix: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_cert: bool = False,
        clean: bool = True,
    ) -> None:
        import paho.mqtt.client as mqtt

        self.connected = threading.Event()
        self.last_error = ""
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            protocol=mqtt.MQTTv311,
        )
        user = username if username is not None else urllib.parse.unquote(url_user(url))
        secret = password if password is not None else urllib.parse.unquote(url_password(url))
        if user:
            self.client.username_pw_set(user, secret or None)
        tls = url.scheme != "mqtt"
        if tls:
            self.client.tls_set_context(tls_context(env, prefix, client_cert=client_cert))
        self.client.reconnect_delay_set(0.5, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.host = url.host or "127.0.0.1"
        self.port = url.port or (8883 if tls else 1883)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            self.connected.clear()
        else:
            self.last_error = ""
            self.connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if reason.is_failure and was_connected:  # else keep the CONNACK's refusal reason
            self.last_error = f"disconnected: {reason}"

    def publish(self, topic: str, payload: bytes, timeout: float, retain: bool = False) -> None:
        if not self.connected.is_set():
            raise UplinkDown(self.last_error or f"not connected to {self.host}:{self.port}")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as error:
            raise UplinkDown(str(error)) from error
        if not info.is_published():
            raise UplinkDown(f"no PUBACK within {timeout:g} s")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def url_user(url: BackendUrl) -> str:
    return urllib.parse.urlsplit(url.raw).username or ""


def url_password(url: BackendUrl) -> str:
    return urllib.parse.urlsplit(url.raw).password or ""


class MqttUplink(Uplink):
    """The GCP broker group, AWS IoT Core and Azure IoT Hub all take MQTT 3.1.1 over TLS."""

    def __init__(self, url: BackendUrl, gateway_id: str, env: Mapping[str, str]) -> None:
        self.scheme = url.scheme
        self.timeout = float(env.get("UPLINK_TIMEOUT_SECONDS") or 10)
        self.topic = f"devices/{gateway_id}/telemetry"
        if url.scheme == "azureiot":
            device = url.path_parts[0] if len(url.path_parts) == 1 else ""
            key = env.get("AZURE_IOT_DEVICE_KEY", "")
            if not url.host or not device or not key:
                raise url.fail(
                    "use azureiot://<hub>.azure-devices.net/<device> with AZURE_IOT_DEVICE_KEY"
                )
            self.topic = f"devices/{device}/messages/events/"
            expiry = int(time.time()) + 365 * 24 * 3600
            self.link = MqttLink(
                url,
                device,
                env,
                "UPLINK",
                username=f"{url.host}/{device}/?api-version=2021-04-12",
                password=sas_token(f"{url.host}/devices/{device}", key, expiry),
            )
        else:
            if not url.host:
                raise url.fail(f"use {url.scheme}://host[:port]")
            with_cert = url.scheme == "awsiot" or bool(env.get("UPLINK_CERT_FILE"))
            self.link = MqttLink(url, gateway_id, env, "UPLINK", client_cert=with_cert)
        self.link.start()

    def send(self, batch: dict[str, Any]) -> None:
        self.link.publish(self.topic, json.dumps(batch).encode(), self.timeout)

    def connected(self) -> bool | None:
        return self.link.connected.is_set()

    def close(self) -> None:
        self.link.stop()


class IotDataUplink(Uplink):
    """AWS IoT Core's HTTPS publish (``iot-data``), signed with the host's IAM credentials."""

    scheme = "awsiot-https"

    def __init__(self, url: BackendUrl, gateway_id: str) -> None:
        import boto3

        endpoint = f"https://{url.netloc}" if url.netloc else None
        self.client = boto3.client("iot-data", endpoint_url=endpoint)
        self.topic = f"devices/{gateway_id}/telemetry"

    def send(self, batch: dict[str, Any]) -> None:
        try:
            self.client.publish(topic=self.topic, qos=1, payload=json.dumps(batch).encode())
        except Exception as error:
            raise UplinkDown(f"{type(error).__name__}: {str(error)[:200]}") from error


def open_uplink(raw: str, gateway_id: str, env: Mapping[str, str]) -> Uplink:
    """The uplink named by ``UPLINK_URL``."""
    url = parse_url("UPLINK_URL", raw, SCHEMES)
    if url.scheme in QUEUE_SCHEMES:
        return QueueUplink(url)
    if url.scheme == "awsiot-https":
        return IotDataUplink(url, gateway_id)
    return MqttUplink(url, gateway_id, env)
