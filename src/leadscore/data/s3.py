"""Lead tables and event files in Amazon S3 (or any S3-compatible store: MinIO, moto, R2).

Three URL forms are understood:

* ``s3://bucket/key.csv`` — one object (when no such object exists but ``key.csv/`` is a
  "folder", everything under it);
* ``s3://bucket/prefix/`` (or ``s3://bucket``) — every object under the prefix, recursively;
* ``s3://bucket/path/*.jsonl`` — a wildcard (``*``, ``?``, ``[…]``) in the last part only,
  matched with :mod:`fnmatch` against the objects directly inside ``path/``.

Credentials, region and endpoint come from :class:`S3Settings` (``LEADSCORE_S3__*``
environment variables or the ``[s3]`` table of ``leadscore.toml``); whatever is left unset
falls back to boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``~/.aws``,
instance roles; ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` for the endpoint).
Every failure is a :class:`~leadscore.errors.DataError` naming the URL.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.config import S3Settings
from leadscore.data.masking import mask_source, mask_text
from leadscore.errors import DataError

if TYPE_CHECKING:  # boto3 is imported lazily: it is slow to import and only S3 sources need it
    from leadscore.config import Settings

#: objects per ListObjectsV2 page (the S3 maximum); a module constant so tests can page
PAGE_SIZE = 1000
#: where :func:`download_s3` remembers the ETag of every object it fetched
MANIFEST_NAME = ".leadscore-s3-manifest.json"

_GLOB_CHARS = re.compile(r"[*?\[]")
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_DENIED_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
}


@dataclass(frozen=True)
class S3Object:
    """One listed object: its key, size in bytes and ETag (quotes stripped)."""

    bucket: str
    key: str
    size: int
    etag: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://`` URL: ``key`` may be empty (the whole bucket), end with "/" (a
    prefix) or end with a wildcard, which is then also in ``pattern``."""

    url: str
    bucket: str
    key: str
    pattern: str | None

    @property
    def base(self) -> str:
        """The folder part of the key ("" for the bucket root), ending with "/"."""
        return self.key.rpartition("/")[0] + "/" if "/" in self.key else ""

    def relative(self, key: str) -> str:
        """Where the object ``key`` goes below the download folder."""
        if key == self.key:  # the one object named by the URL: just its file name
            return key.rsplit("/", 1)[-1]
        if self.pattern is None and self.key and not self.key.endswith("/"):
            return key[len(self.key) + 1 :]  # s3://b/folder without the trailing slash
        return key[len(self.base) :]


def parse_s3_url(url: str) -> S3Location:
    """Split ``s3://bucket/key`` into its parts, or raise :class:`DataError`.

    Keys are taken literally (no percent-decoding), as the AWS CLI does.

    Example
    -------
    >>> parse_s3_url("s3://leads/2025/*.csv").pattern
    '*.csv'
    """
    shown = mask_source(url)
    if not url.startswith("s3://"):
        raise DataError(f"malformed S3 URL {shown!r}: it must start with s3://")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket):
        raise DataError(
            f"malformed S3 URL {shown!r}: expected s3://BUCKET/KEY with a valid bucket name"
        )
    head, _, last = key.rpartition("/")
    if _GLOB_CHARS.search(head):
        raise DataError(
            f"malformed S3 URL {shown!r}: only the last part of the key may be a pattern"
        )
    pattern = last if _GLOB_CHARS.search(last) else None
    return S3Location(url=url, bucket=bucket, key=key, pattern=pattern)


def _resolve_settings(settings: S3Settings | Settings | None) -> S3Settings:
    if settings is None:
        return S3Settings()
    if isinstance(settings, S3Settings):
        return settings
    return settings.s3


def make_client(settings: S3Settings | Settings | None = None) -> Any:
    """Return a boto3 S3 client configured from ``settings`` (and boto3's own chain).

    Example
    -------
    >>> client = make_client(S3Settings(region="eu-west-1"))  # connects on first use
    >>> client.meta.region_name
    'eu-west-1'
    """
    import boto3
    from botocore.config import Config

    s3 = _resolve_settings(settings)
    session = boto3.session.Session(
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key.get_secret_value()
        if s3.secret_access_key
        else None,
        aws_session_token=s3.session_token.get_secret_value() if s3.session_token else None,
        region_name=s3.region,
    )
    config = Config(
        retries={"max_attempts": s3.max_attempts, "mode": "standard"},
        connect_timeout=s3.connect_timeout,
    )
    # endpoint_url=None lets botocore apply AWS_ENDPOINT_URL(_S3) and the ~/.aws config
    return session.client("s3", endpoint_url=s3.endpoint_url, config=config)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _error_message(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "") or exc)


def _translate(exc: Exception, url: str, client: Any | None = None) -> DataError:
    """Turn a botocore exception into a :class:`DataError` the user can act on (secrets in
    the URL, the endpoint or botocore's message masked)."""
    return DataError(mask_text(str(_explain(exc, mask_source(url), client))))


def _explain(exc: Exception, url: str, client: Any | None = None) -> DataError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None) or "the S3 endpoint"
    if isinstance(exc, EndpointConnectionError):
        return DataError(f"cannot reach {endpoint} for {url}: {exc}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return DataError(
            f"no S3 credentials for {url}: set LEADSCORE_S3__ACCESS_KEY_ID and "
            "LEADSCORE_S3__SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            f"or AWS_PROFILE) ({exc})"
        )
    if not isinstance(exc, ClientError):  # any other BotoCoreError: timeouts, bad config
        return DataError(f"S3 request for {url} failed: {exc}")
    code = _error_code(exc)
    if code in _DENIED_CODES:
        return DataError(
            f"S3 access denied for {url}: check the credentials "
            "(LEADSCORE_S3__ACCESS_KEY_ID / AWS_ACCESS_KEY_ID and the matching secret key) "
            f"and that they may read this bucket ({code}: {_error_message(exc)})"
        )
    if code == "NoSuchBucket":
        bucket = url[len("s3://") :].split("/", 1)[0]
        return DataError(f"S3 bucket {bucket!r} does not exist ({url})")
    if code in ("NoSuchKey", "404", "NotFound"):
        return DataError(f"no S3 object at {url}")
    return DataError(f"S3 request for {url} failed ({code}: {_error_message(exc)})")


def _list_prefix(client: Any, bucket: str, prefix: str) -> list[S3Object]:
    paginator = client.get_paginator("list_objects_v2")
    objects: list[S3Object] = []
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):  # a console-made "folder" placeholder, not data
                continue
            objects.append(S3Object(bucket, key, int(item["Size"]), item["ETag"].strip('"')))
    return objects


def _head(client: Any, bucket: str, key: str) -> S3Object | None:
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None  # maybe a "folder", or the bucket is missing: the listing will tell
        raise
    return S3Object(bucket, key, int(head["ContentLength"]), head["ETag"].strip('"'))


def list_objects(
    url: str, settings: S3Settings | Settings | None = None, *, client: Any | None = None
) -> list[S3Object]:
    """The objects an ``s3://`` URL designates, sorted by key (see the module docstring).

    Raises :class:`DataError` when nothing matches.

    For example, ``[o.key for o in list_objects("s3://leads/2025/")]`` gives
    ``['2025/01.csv', '2025/02.csv']``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    location = parse_s3_url(url)
    client = client or make_client(settings)
    try:
        objects = _match(client, location)
    except (BotoCoreError, ClientError) as exc:
        raise _translate(exc, url, client) from None
    if not objects:
        raise DataError(f"no S3 objects match {url}")
    return sorted(objects, key=lambda obj: obj.key)


def _match(client: Any, location: S3Location) -> list[S3Object]:
    bucket, key = location.bucket, location.key
    if location.pattern is not None:
        directory = location.base
        literal = _GLOB_CHARS.split(location.pattern, maxsplit=1)[0]
        return [
            obj
            for obj in _list_prefix(client, bucket, directory + literal)
            # fnmatch's "*" crosses "/", but a wildcard should stay inside its folder
            if "/" not in obj.key[len(directory) :]
            and fnmatch.fnmatchcase(obj.key[len(directory) :], location.pattern)
        ]
    if key and not key.endswith("/"):
        single = _head(client, bucket, key)
        if single is not None:
            return [single]
        key += "/"
    return _list_prefix(client, bucket, key)


def list_s3(url: str, settings: S3Settings | Settings | None = None) -> list[str]:
    """The ``s3://`` URLs of the objects that ``url`` designates, sorted by key.

    Parameters
    ----------
    url:
        ``s3://bucket/key``, ``s3://bucket/prefix/`` or ``s3://bucket/path/*.jsonl``.
    settings:
        :class:`S3Settings` (or the whole :class:`~leadscore.config.Settings`); ``None``
        uses boto3's defaults.

    For example, ``list_s3("s3://leads/raw/*.jsonl.gz")`` gives
    ``['s3://leads/raw/2025-01-01.jsonl.gz', 's3://leads/raw/2025-01-02.jsonl.gz']``.
    """
    return [obj.url for obj in list_objects(url, settings)]


def _has_suffix(key: str, suffixes: Collection[str]) -> bool:
    lowered = key.lower()
    return any(lowered.endswith(suffix) for suffix in suffixes)


def download_s3(
    url: str,
    dest_dir: str | Path,
    settings: S3Settings | Settings | None = None,
    *,
    suffixes: Collection[str] | None = None,
    full_keys: bool = False,
) -> list[Path]:
    """Download the objects ``url`` designates into ``dest_dir``; return their local paths.

    Files keep their key path relative to the URL's folder (``s3://b/raw/`` puts
    ``raw/2025/a.csv`` at ``dest_dir/2025/a.csv``). An object already downloaded with the
    same size and ETag is not fetched again (the ETags are kept in a small manifest file in
    ``dest_dir``). Each file is written under a temporary name first, so an interrupted
    download never looks complete.

    Parameters
    ----------
    url:
        An ``s3://`` URL (single object, prefix or wildcard).
    dest_dir:
        Local folder; created if needed.
    settings:
        :class:`S3Settings` or the whole settings; ``None`` uses boto3's defaults.
    suffixes:
        For a prefix or wildcard, keep only keys ending with one of these (lower-case,
        e.g. ``{".csv", ".csv.gz"}``). A single named object is always kept.
    full_keys:
        Place files at their whole key below ``dest_dir`` (``dest_dir/raw/2025/a.csv``)
        rather than relative to the URL's folder; a cache shared by many URLs uses this so
        that different URLs never map two keys onto one file.

    For example, ``download_s3("s3://leads/2025/", "cache/leads")`` gives
    ``[PosixPath('cache/leads/01.csv'), PosixPath('cache/leads/02.csv')]``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    location = parse_s3_url(url)
    client = make_client(settings)
    objects = list_objects(url, client=client)
    if suffixes is not None and not (len(objects) == 1 and objects[0].key == location.key):
        kept = [obj for obj in objects if _has_suffix(obj.key, suffixes)]
        if not kept:
            raise DataError(
                f"no data files ({', '.join(sorted(suffixes))}) among the {len(objects)} "
                f"S3 objects under {url}"
            )
        objects = kept
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    paths: list[Path] = []
    for obj in objects:
        relative = obj.key if full_keys else location.relative(obj.key)
        target = _safe_target(dest, relative, url)
        if not _is_cached(target, obj, manifest):
            try:
                _fetch(client, obj, target)
            except (BotoCoreError, ClientError) as exc:
                raise _translate(exc, obj.url, client) from None
            manifest[obj.key] = {"etag": obj.etag, "size": obj.size}
            _write_manifest(dest, manifest)
        paths.append(target)
    return paths


def _safe_target(dest: Path, relative: str, url: str) -> Path:
    # A key such as "../../etc/x" must not escape the cache folder.
    target = (dest / relative).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise DataError(f"refusing to download {url}: the key {relative!r} leaves {dest}")
    return dest / relative


def _is_cached(target: Path, obj: S3Object, manifest: dict[str, dict[str, Any]]) -> bool:
    entry = manifest.get(obj.key)
    return (
        target.is_file()
        and target.stat().st_size == obj.size
        and entry is not None
        and entry.get("etag") == obj.etag
        and entry.get("size") == obj.size
    )


def _fetch(client: Any, obj: S3Object, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        client.download_file(obj.bucket, obj.key, str(partial))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _read_manifest(dest: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no or unreadable manifest: everything is simply downloaded again
    return data if isinstance(data, dict) else {}


def _write_manifest(dest: Path, manifest: dict[str, dict[str, Any]]) -> None:
    path = dest / MANIFEST_NAME
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
