"""Photos as objects in an S3-compatible bucket (AWS, MinIO, Garage, Ceph...) through boto3.

Credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a
profile, an instance role): the service never reads them itself.
"""

from collections.abc import Iterator

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .base import IMMUTABLE_CACHE, PhotoStorage, check_key, store_failures


class S3Storage(PhotoStorage):
    # Connection failures and time-outs (botocore), and the store's own errors (5xx).
    failures = (BotoCoreError, ClientError, OSError)

    def is_full(self, error: Exception) -> bool:
        return isinstance(error, ClientError) and error.response["Error"]["Code"] in (
            "EntityTooLarge",
            "QuotaExceeded",
            "XMinioStorageFull",
        )

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        presign_seconds: int = 0,
    ):
        self.bucket = bucket
        self.presign_seconds = presign_seconds
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=BotoConfig(
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            ),
        )

    @store_failures
    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl=IMMUTABLE_CACHE,
        )

    @store_failures
    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @store_failures
    def read(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from exc
            raise
        with body:
            return body.read()

    @store_failures
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def keys(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield item["Key"]

    @store_failures  # no credentials to sign with: the store is out of reach
    def redirect_url(self, key: str) -> str | None:
        if not self.presign_seconds:
            return None
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key)},
            ExpiresIn=self.presign_seconds,
        )
