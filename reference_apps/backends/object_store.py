"""Object storage: originals, results and documents, addressed by slash-separated keys.

Keys are made by the apps (ids, never raw user filenames), and every store re-checks them, so a
key can never leave its bucket, prefix or folder. Writes are all-or-nothing: a failed request
leaves no partial object behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from .resilience import READ_TIMEOUT, azure_storage_options, boto_config, gcp_retry, guard_methods
from .settings import BackendUrl

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectNotFound(KeyError):
    """No object under that key."""


def check_key(key: str) -> str:
    """Reject keys that could escape a prefix: '..', absolute paths, control characters."""
    if len(key) > 512 or not KEY_PATTERN.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


class ObjectStore(ABC):
    """The object-store interface every implementation follows."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every adapter's calls raise DependencyDown when the service is unreachable."""
        super().__init_subclass__(**kwargs)
        guard_methods(cls, "object_store")

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key``, replacing any previous object atomically."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`ObjectNotFound`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys that start with ``prefix``, sorted."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (used by /readyz)."""


class FileObjectStore(ObjectStore):
    """Objects as files under one folder; writes go to a temporary file, then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"invalid object key {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        for parent in path.parents:
            if parent == self.root.resolve() or not parent.is_relative_to(self.root.resolve()):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def list(self, prefix: str = "") -> list[str]:
        root = self.root.resolve()
        keys = [
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and not path.name.startswith(".tmp-")
        ]
        return sorted(key for key in keys if key.startswith(prefix))

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is not writable")


class S3ObjectStore(ObjectStore):
    """Amazon S3 or any S3-compatible endpoint (``AWS_ENDPOINT_URL_S3``: SeaweedFS, MinIO, moto)."""

    def __init__(self, bucket: str, prefix: str = "", client: object | None = None) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", config=boto_config())

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(keys)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


class GcsObjectStore(ObjectStore):
    """Google Cloud Storage (``STORAGE_EMULATOR_HOST`` points the client at an emulator)."""

    def __init__(self, bucket: str, prefix: str = "", client: object | None = None) -> None:
        from google.cloud import storage

        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or storage.Client()
        self.bucket = self.client.bucket(bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        blob = self.bucket.blob(self.prefix + check_key(key))
        blob.upload_from_string(
            data, content_type=content_type, timeout=READ_TIMEOUT, retry=gcp_retry()
        )

    def get(self, key: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(self.prefix + check_key(key)).download_as_bytes(
                timeout=READ_TIMEOUT, retry=gcp_retry()
            )
        except NotFound:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self.bucket.blob(self.prefix + check_key(key)).delete(
                timeout=READ_TIMEOUT, retry=gcp_retry()
            )

    def list(self, prefix: str = "") -> list[str]:
        blobs = self.client.list_blobs(
            self.bucket, prefix=self.prefix + prefix, timeout=READ_TIMEOUT, retry=gcp_retry()
        )
        return sorted(blob.name[len(self.prefix) :] for blob in blobs)

    def check(self) -> None:
        self.bucket.reload(timeout=READ_TIMEOUT, retry=gcp_retry())


class AzureBlobObjectStore(ObjectStore):
    """Azure Blob Storage: a connection string (Azurite) or managed identity."""

    def __init__(self, account: str, container: str, service: object | None = None) -> None:
        from azure.storage.blob import BlobServiceClient, LinearRetry

        if service is None:
            connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
            if connection:
                service = BlobServiceClient.from_connection_string(
                    connection, **azure_storage_options(LinearRetry)
                )
            else:
                from azure.identity import DefaultAzureCredential

                service = BlobServiceClient(
                    f"https://{account}.blob.core.windows.net",
                    credential=DefaultAzureCredential(),
                    **azure_storage_options(LinearRetry),
                )
        self.container = service.get_container_client(container)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        from azure.storage.blob import ContentSettings

        self.container.upload_blob(
            check_key(key),
            data,
            overwrite=True,
            content_settings=ContentSettings(content_type=content_type),
        )

    def get(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(check_key(key)).readall()
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(check_key(key))

    def list(self, prefix: str = "") -> list[str]:
        return sorted(blob.name for blob in self.container.list_blobs(name_starts_with=prefix))

    def check(self) -> None:
        self.container.get_container_properties()


def open_object_store(url: BackendUrl) -> ObjectStore:
    """The store named by ``OBJECT_STORE_URL``."""
    if url.scheme == "file":
        if url.netloc or not url.path.startswith("/"):
            raise url.fail("use file:///absolute/folder")
        return FileObjectStore(Path(url.path))
    if url.scheme in {"s3", "gs"}:
        if not url.netloc:
            raise url.fail(f"use {url.scheme}://bucket[/prefix]")
        store = S3ObjectStore if url.scheme == "s3" else GcsObjectStore
        return store(url.netloc, url.path)
    parts = url.path_parts
    if not url.netloc or len(parts) != 1:
        raise url.fail("use azblob://account/container")
    return AzureBlobObjectStore(url.netloc, parts[0])
