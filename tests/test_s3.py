"""Tests for S3 sources (leadscore.data.s3 and the s3:// dispatch) against moto's real server.

moto runs as an HTTP server in a thread of this process; boto3 talks to it over the
network exactly as it would to AWS. Access-denied cases switch on moto's IAM checks via
its ``/moto-api/reset-auth`` endpoint for the duration of one test.
"""

from __future__ import annotations

import gzip
import io
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

from leadscore.config import Settings, load_settings
from leadscore.data import s3 as s3_module
from leadscore.data.s3 import (
    MANIFEST_NAME,
    S3Settings,
    download_s3,
    list_objects,
    list_s3,
    make_client,
    parse_s3_url,
)
from leadscore.data.sources import read_table, resolve_files
from leadscore.errors import DataError

REGION = "us-east-1"
CSV_JAN = b"lead_id,visits,source\nL1,3,google\nL2,5,email\n"
CSV_FEB = b"lead_id,visits,source\nL3,1,ads\n"
CSV_MAR = b"lead_id,visits,source\nL4,8,google\n"
EVENTS = [
    {"event": "Page View", "properties": {"distinct_id": "u1", "time": 1735689600}},
    {"event": "Signed Up", "properties": {"distinct_id": "u1", "time": 1735693200}},
]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3/IAM server on a free local port, shared by the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_settings(moto_endpoint: str) -> S3Settings:
    return S3Settings(
        endpoint_url=moto_endpoint,
        region=REGION,
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
    )


def _gz_jsonl(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def bucket(s3_settings: S3Settings) -> str:
    """A bucket holding CSV, gzip JSONL and Parquet objects plus the usual clutter."""
    name = f"leads-{uuid.uuid4().hex[:10]}"
    client = make_client(s3_settings)
    client.create_bucket(Bucket=name)
    objects = {
        "leads/2025/01.csv": CSV_JAN,
        "leads/2025/02.csv": CSV_FEB,
        "leads/2025/sub/03.csv": CSV_MAR,
        "leads/2025/_SUCCESS": b"",  # Spark's marker: listed, but not data
        "leads/folder/": b"",  # a console-made "folder" placeholder
        "events/2025-01-01.jsonl.gz": _gz_jsonl(EVENTS),
        "events/2025-01-02.jsonl.gz": _gz_jsonl(EVENTS[:1]),
        "events/readme.txt": b"not events",
        "tables/all.parquet": _parquet(pd.DataFrame({"lead_id": ["a", "b"], "visits": [1, 2]})),
        "tables/other.csv": b"id,name\n1,x\n",
        "empty.csv": b"",
    }
    for key, body in objects.items():
        client.put_object(Bucket=name, Key=key, Body=body)
    return name


# --- URLs --------------------------------------------------------------------------------------


def test_parse_s3_url() -> None:
    loc = parse_s3_url("s3://b1/raw/2025/*.jsonl.gz")
    assert (loc.bucket, loc.key, loc.pattern, loc.base) == (
        "b1",
        "raw/2025/*.jsonl.gz",
        "*.jsonl.gz",
        "raw/2025/",
    )
    assert parse_s3_url("s3://b1").key == ""
    assert parse_s3_url("s3://b1/a.csv").pattern is None


@pytest.mark.parametrize(
    "url", ["s3:///key.csv", "s3://", "s3://bad bucket/x.csv", "s3://b/*/x.csv", "http://b/x"]
)
def test_malformed_url(url: str, s3_settings: S3Settings) -> None:
    with pytest.raises(DataError, match="malformed S3 URL") as caught:
        list_s3(url, s3_settings)
    assert url in str(caught.value)


# --- listing -----------------------------------------------------------------------------------


def test_list_prefix_is_recursive_and_skips_placeholders(bucket: str, s3_settings: S3Settings):
    urls = list_s3(f"s3://{bucket}/leads/", s3_settings)
    assert urls == [
        f"s3://{bucket}/leads/2025/01.csv",
        f"s3://{bucket}/leads/2025/02.csv",
        f"s3://{bucket}/leads/2025/_SUCCESS",  # zero-byte objects are kept
        f"s3://{bucket}/leads/2025/sub/03.csv",
    ]


def test_list_glob_stays_in_its_folder(bucket: str, s3_settings: S3Settings) -> None:
    urls = list_s3(f"s3://{bucket}/leads/2025/*.csv", s3_settings)
    assert urls == [f"s3://{bucket}/leads/2025/01.csv", f"s3://{bucket}/leads/2025/02.csv"]
    assert list_s3(f"s3://{bucket}/leads/2025/0[2-9].csv", s3_settings) == [
        f"s3://{bucket}/leads/2025/02.csv"
    ]


def test_list_single_object_and_folder_without_slash(bucket: str, s3_settings: S3Settings):
    assert list_s3(f"s3://{bucket}/tables/all.parquet", s3_settings) == [
        f"s3://{bucket}/tables/all.parquet"
    ]
    assert list_s3(f"s3://{bucket}/tables", s3_settings) == [
        f"s3://{bucket}/tables/all.parquet",
        f"s3://{bucket}/tables/other.csv",
    ]


def test_listing_follows_pages(
    bucket: str, s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = list_s3(f"s3://{bucket}/", s3_settings)
    monkeypatch.setattr(s3_module, "PAGE_SIZE", 2)
    assert list_s3(f"s3://{bucket}/", s3_settings) == whole
    assert len(whole) == 10  # every object but the placeholder


def test_list_objects_reports_size_and_etag(bucket: str, s3_settings: S3Settings) -> None:
    (obj,) = list_objects(f"s3://{bucket}/leads/2025/01.csv", s3_settings)
    assert obj.size == len(CSV_JAN)
    assert obj.etag and '"' not in obj.etag


# --- downloading and caching -------------------------------------------------------------------


def test_download_keeps_relative_paths(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    paths = download_s3(f"s3://{bucket}/leads/2025/", tmp_path, s3_settings)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "01.csv",
        "02.csv",
        "_SUCCESS",
        "sub/03.csv",
    ]
    assert paths[0].read_bytes() == CSV_JAN
    assert paths[2].stat().st_size == 0
    assert not list(tmp_path.rglob("*.partial"))
    single = download_s3(f"s3://{bucket}/tables/other.csv", tmp_path / "one", s3_settings)
    assert single == [tmp_path / "one" / "other.csv"]


def test_download_skips_unchanged_objects(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    client = make_client(s3_settings)
    key = f"cache-test/{uuid.uuid4().hex}.csv"
    client.put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n")
    url = f"s3://{bucket}/{key}"
    (path,) = download_s3(url, tmp_path, s3_settings)
    assert (tmp_path / MANIFEST_NAME).is_file()
    # Same size, different bytes: if the file were fetched again the marker would vanish.
    path.write_bytes(b"x,y\n7,8\n")
    assert download_s3(url, tmp_path, s3_settings) == [path]
    assert path.read_bytes() == b"x,y\n7,8\n"
    # A changed object (new ETag) is downloaded again.
    client.put_object(Bucket=bucket, Key=key, Body=b"a,b\n3,4\n")
    download_s3(url, tmp_path, s3_settings)
    assert path.read_bytes() == b"a,b\n3,4\n"
    # A local file of the wrong size (say, truncated) is replaced.
    path.write_bytes(b"a,b\n")
    download_s3(url, tmp_path, s3_settings)
    assert path.read_bytes() == b"a,b\n3,4\n"


def test_download_with_suffix_filter(bucket: str, s3_settings: S3Settings, tmp_path: Path):
    paths = download_s3(f"s3://{bucket}/events/", tmp_path, s3_settings, suffixes=[".jsonl.gz"])
    assert [p.name for p in paths] == ["2025-01-01.jsonl.gz", "2025-01-02.jsonl.gz"]
    with pytest.raises(DataError, match="no data files"):
        download_s3(f"s3://{bucket}/events/", tmp_path, s3_settings, suffixes=[".parquet"])


# --- the s3:// dispatch ------------------------------------------------------------------------


def _settings(s3: S3Settings) -> Settings:
    return Settings(s3=s3)


def test_resolve_files_caches_under_full_keys(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    files = resolve_files(f"s3://{bucket}/leads/", tmp_path, settings=_settings(s3_settings))
    root = tmp_path / "s3" / bucket
    # only data files: Spark's _SUCCESS marker is left out
    assert files == [
        root / "leads/2025/01.csv",
        root / "leads/2025/02.csv",
        root / "leads/2025/sub/03.csv",
    ]


def test_read_table_single_csv(bucket: str, s3_settings: S3Settings, tmp_path: Path) -> None:
    frame = read_table(
        f"s3://{bucket}/leads/2025/01.csv", settings=_settings(s3_settings), cache_dir=tmp_path
    )
    assert frame["lead_id"].tolist() == ["L1", "L2"]
    assert frame["visits"].tolist() == [3, 5]


def test_read_table_prefix_concatenates(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    frame = read_table(
        f"s3://{bucket}/leads/2025/", settings=_settings(s3_settings), cache_dir=tmp_path
    )
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert list(frame.columns) == ["lead_id", "visits", "source"]


def test_read_table_parquet_and_gz_jsonl(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    settings = _settings(s3_settings)
    parquet = read_table(f"s3://{bucket}/tables/all.parquet", settings=settings, cache_dir=tmp_path)
    assert parquet["visits"].tolist() == [1, 2]
    events = read_table(f"s3://{bucket}/events/*.jsonl.gz", settings=settings, cache_dir=tmp_path)
    assert events["event"].tolist() == ["Page View", "Signed Up", "Page View"]
    assert events["distinct_id"].tolist() == ["u1"] * 3  # Mixpanel properties flattened


def test_read_table_zero_byte_object_is_reported_empty(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="empty") as caught:
        read_table(f"s3://{bucket}/empty.csv", settings=_settings(s3_settings), cache_dir=tmp_path)
    assert f"s3://{bucket}/empty.csv" in str(caught.value)


def test_read_table_mixed_columns_is_an_error(
    bucket: str, s3_settings: S3Settings, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="columns") as caught:
        read_table(f"s3://{bucket}/tables/", settings=_settings(s3_settings), cache_dir=tmp_path)
    assert f"s3://{bucket}/tables/other.csv" in str(caught.value)


def test_settings_from_leadscore_environment(
    bucket: str,
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no leadscore.toml around
    monkeypatch.setenv("LEADSCORE_S3__ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("LEADSCORE_S3__ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("LEADSCORE_S3__SECRET_ACCESS_KEY", "not-so-secret")
    monkeypatch.setenv("LEADSCORE_S3__REGION", REGION)
    settings = load_settings()
    assert settings.s3.endpoint_url == moto_endpoint
    assert settings.s3.secret_access_key is not None
    assert "not-so-secret" not in repr(settings.s3)  # secrets are not printed
    frame = read_table(f"s3://{bucket}/leads/2025/02.csv", cache_dir=tmp_path / "cache")
    assert frame["lead_id"].tolist() == ["L3"]


def test_aws_endpoint_url_is_honoured(
    bucket: str, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert list_s3(f"s3://{bucket}/tables/other.csv", S3Settings()) == [
        f"s3://{bucket}/tables/other.csv"
    ]


# --- errors ------------------------------------------------------------------------------------


def _set_moto_auth(endpoint: str, count: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture
def iam_enforced(moto_endpoint: str) -> Iterator[tuple[str, str]]:
    """Switch on moto's IAM checks; yield the keys of a user without any permission."""
    iam = boto3.client(
        "iam",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    user = f"nobody-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    _set_moto_auth(moto_endpoint, "0")
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        _set_moto_auth(moto_endpoint, "inf")


@pytest.mark.parametrize("who", ["unknown key", "user without permission"])
@pytest.mark.parametrize("path", ["leads/2025/01.csv", "leads/"])
def test_access_denied(
    who: str,
    path: str,
    bucket: str,
    moto_endpoint: str,
    iam_enforced: tuple[str, str],
    tmp_path: Path,
) -> None:
    key_id, secret = ("AKIAUNKNOWN000000000", "wrong") if who == "unknown key" else iam_enforced
    settings = S3Settings(
        endpoint_url=moto_endpoint,
        region=REGION,
        access_key_id=key_id,
        secret_access_key=secret,
        max_attempts=1,
    )
    url = f"s3://{bucket}/{path}"
    with pytest.raises(DataError, match="S3 access denied") as caught:
        download_s3(url, tmp_path, settings)
    message = str(caught.value)
    assert url in message
    assert "LEADSCORE_S3__ACCESS_KEY_ID" in message and "AWS_ACCESS_KEY_ID" in message
    assert secret not in message


def test_no_such_bucket(s3_settings: S3Settings) -> None:
    url = f"s3://missing-{uuid.uuid4().hex[:8]}/leads.csv"
    with pytest.raises(DataError, match="does not exist") as caught:
        list_s3(url, s3_settings)
    assert url in str(caught.value)


@pytest.mark.parametrize("path", ["nothing/here/", "nothing.csv", "leads/2025/*.parquet"])
def test_nothing_matches(path: str, bucket: str, s3_settings: S3Settings) -> None:
    url = f"s3://{bucket}/{path}"
    with pytest.raises(DataError, match="no S3 objects match") as caught:
        list_s3(url, s3_settings)
    assert url in str(caught.value)


def test_endpoint_unreachable(tmp_path: Path) -> None:
    settings = S3Settings(
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens there
        access_key_id="a",
        secret_access_key="b",
        region=REGION,
        max_attempts=1,
        connect_timeout=2,
    )
    with pytest.raises(DataError, match="cannot reach") as caught:
        download_s3("s3://leads/x.csv", tmp_path, settings)
    assert "http://127.0.0.1:9" in str(caught.value)
    assert "s3://leads/x.csv" in str(caught.value)


def test_misspelt_setting_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from leadscore.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSCORE_S3__ENDPONT_URL", "http://localhost:9000")
    with pytest.raises(ConfigError, match="endpont_url"):
        load_settings()
