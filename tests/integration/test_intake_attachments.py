"""Attachments on a real PostgreSQL: upload (POST /api/v1/attachments), the blob store on
disk and in an S3-compatible store (moto's server on loopback, a real S3 HTTP endpoint),
the `attachments` table, and complaints that reference what was uploaded."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from eungdapso_devstack.infra import PostgresTarget, free_port
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.attachments import Attachments
from eungdapso_intake.blobstore import Area, BlobNotFound, S3BlobStore
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_schemas.codes import AttachmentKind
from eungdapso_schemas.events import AttachmentRef, ComplaintReceivedV2
from tests.integration.test_intake_http import COMPLAINT, settings_for, stored_events
from tests.support.media import PDF, RECORDED_AT, WINDOWS_EXE, has_gps, photo, video_with_location

pytestmark = pytest.mark.integration

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
def client(database: PostgresTarget, blobs: Path) -> Iterator[TestClient]:
    settings = settings_for(
        database,
        attachments_dir=blobs,
        attachment_max_photo_bytes=1 * MIB,
        upload_max_body_bytes=2 * MIB,
        attachment_fetch_allowed_hosts="localhost",
    )
    with TestClient(bootstrap(settings)) as c:
        yield c


def upload(
    client: TestClient, content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> Any:
    return client.post("/api/v1/attachments", files={"file": (name, content, content_type)})


def rows(database: PostgresTarget) -> list[dict[str, Any]]:
    with psycopg.connect(database.conninfo(), row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM intake.attachments ORDER BY uploaded_at").fetchall()


def blob(root: Path, area: Area, sha256: str) -> bytes:
    return (root / area.value / sha256[:2] / sha256).read_bytes()


def test_an_uploaded_photo_is_stored_by_content_without_its_gps_and_the_original_is_kept(
    client: TestClient, database: PostgresTarget, blobs: Path
) -> None:
    original = photo("JPEG", (120, 80))
    assert has_gps(original)
    answer = upload(client, original)
    assert answer.status_code == 201, answer.text
    ref = answer.json()
    assert set(ref) == {"sha256", "media_type", "kind", "size_bytes"}
    assert ref["media_type"] == "image/jpeg" and ref["kind"] == "photo"

    copy = blob(blobs, Area.SHARED, ref["sha256"])
    assert hashlib.sha256(copy).hexdigest() == ref["sha256"] and len(copy) == ref["size_bytes"]
    assert not has_gps(copy)
    original_sha256 = hashlib.sha256(original).hexdigest()
    assert blob(blobs, Area.ORIGINALS, original_sha256) == original, "the original is kept, privately"
    assert not (blobs / Area.SHARED.value / original_sha256[:2] / original_sha256).exists()

    (row,) = rows(database)
    assert row["sha256"] == ref["sha256"] and row["original_sha256"] == original_sha256
    assert (row["media_type"], row["kind"], row["size_bytes"]) == ("image/jpeg", "photo", len(copy))
    assert row["original_size_bytes"] == len(original) and row["uploaded_by"] == "web"

    again = upload(client, original, name="same-photo-again.jpeg")
    assert again.status_code == 201 and again.json() == ref
    assert len(rows(database)) == 1, "the same content is one attachment"


def test_a_video_is_shared_without_where_it_was_recorded(client: TestClient, blobs: Path) -> None:
    original, media = video_with_location()
    ref = upload(client, original, "clip.mov", "video/quicktime").json()
    assert (ref["kind"], ref["media_type"]) == ("video", "video/mp4")
    copy = blob(blobs, Area.SHARED, ref["sha256"])
    assert RECORDED_AT not in copy and media in copy
    assert blob(blobs, Area.ORIGINALS, hashlib.sha256(original).hexdigest()) == original


def test_a_complaint_carries_the_attachments_it_references(
    client: TestClient, database: PostgresTarget
) -> None:
    photo_ref = upload(client, photo("PNG"), "pothole.png", "image/png").json()
    letter_ref = upload(client, PDF, "letter.pdf", "application/pdf").json()
    answer = client.post(
        "/api/v1/complaints", json={**COMPLAINT, "attachments": [photo_ref["sha256"], letter_ref["sha256"]]}
    )
    assert answer.status_code == 201, answer.text

    application: IntakeApplication = client.app.state.intake.app  # type: ignore[attr-defined]
    (received,) = list(application.events.get(answer.json()["complaint_id"]))
    envelope = OUTBOX(received)
    assert envelope is not None and isinstance(envelope.data, ComplaintReceivedV2)
    assert envelope.data.attachments == (
        AttachmentRef(sha256=photo_ref["sha256"], media_type="image/png", kind=AttachmentKind.PHOTO,
                      size_bytes=photo_ref["size_bytes"]),
        AttachmentRef(sha256=letter_ref["sha256"], media_type="application/pdf", kind=AttachmentKind.DOCUMENT,
                      size_bytes=len(PDF)),
    )  # fmt: skip


def test_an_unknown_reference_is_refused_naming_it(client: TestClient, database: PostgresTarget) -> None:
    known = upload(client, PDF, "letter.pdf").json()["sha256"]
    unknown = "0" * 64
    answer = client.post("/api/v1/complaints", json={**COMPLAINT, "attachments": [known, unknown]})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"].endswith("unknown-attachment") and problem["unknown"] == [unknown]
    assert unknown in problem["detail"] and known not in problem["detail"]
    malformed = client.post("/api/v1/complaints", json={**COMPLAINT, "attachments": ["not-a-sha256"]})
    assert malformed.status_code == 422 and "attachments.0" in [
        e["field"] for e in malformed.json()["errors"]
    ]
    assert stored_events(database) == 0


def test_oversize_uploads_are_refused_and_the_json_form_keeps_its_own_limit(
    client: TestClient, database: PostgresTarget, blobs: Path
) -> None:
    big_photo = photo("PNG", (700, 700), noise=True)  # about 1.5 MiB: over the photo limit, under the body's
    assert MIB < len(big_photo) < 2 * MIB
    too_big = upload(client, big_photo, "big.png", "image/png")
    assert too_big.status_code == 413 and too_big.json()["type"].endswith("attachment-too-large")
    assert "photo may be at most 1 MiB" in too_big.json()["detail"]

    # The same size is fine for a document (its limit is the default, 20 MiB).
    assert upload(client, PDF + bytes(len(big_photo)), "scan.pdf").status_code == 201

    over_body = upload(client, PDF + bytes(3 * MIB), "huge-scan.pdf")
    assert over_body.status_code == 413
    assert over_body.headers["content-type"].startswith("application/problem+json")
    assert str(2 * MIB) in over_body.json()["detail"], "refused by the upload path's body limit"

    form = client.post("/api/v1/complaints", json={**COMPLAINT, "text": "가" * 30_000})  # ~90 kB of JSON
    assert form.status_code == 413, "the complaint form keeps its 64 KiB limit"
    assert [r["kind"] for r in rows(database)] == ["document"]
    assert not (blobs / Area.ORIGINALS.value).exists()


@pytest.mark.parametrize(
    ("content", "status", "kind_or_type"),
    [(PDF, 201, "document"), (WINDOWS_EXE, 415, "application/x-msdownload")],
    ids=["pdf-named-jpg", "exe-named-jpg"],
)
def test_the_content_decides_not_the_name_or_declared_type(
    client: TestClient, database: PostgresTarget, content: bytes, status: int, kind_or_type: str
) -> None:
    answer = upload(client, content, "holiday.jpg", "image/jpeg")
    assert answer.status_code == status, answer.text
    if status == 201:
        assert answer.json()["media_type"] == "application/pdf" and answer.json()["kind"] == kind_or_type
    else:
        problem = answer.json()
        assert problem["type"].endswith("attachment-type-not-allowed")
        assert problem["sniffed_type"] == kind_or_type and kind_or_type in problem["detail"]
        assert rows(database) == []


def test_an_empty_or_missing_file_is_refused(client: TestClient, database: PostgresTarget) -> None:
    empty = upload(client, b"", "nothing.jpg")
    assert empty.status_code == 422 and empty.json()["type"].endswith("attachment-empty")
    missing = client.post("/api/v1/attachments", data={"note": "forgot the file"})
    assert missing.status_code == 422 and "'file'" in missing.json()["detail"]
    not_multipart = client.post("/api/v1/attachments", json={"file": "a photo"})
    assert not_multipart.status_code == 422
    assert rows(database) == []


class MediaHost(BaseHTTPRequestHandler):
    content = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.content)))
        self.end_headers()
        self.wfile.write(self.content)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_provider_media_is_fetched_and_stored_like_an_upload(
    client: TestClient, database: PostgresTarget, blobs: Path
) -> None:
    MediaHost.content = photo("JPEG")
    server = ThreadingHTTPServer(("127.0.0.1", 0), MediaHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        attachments: Attachments = client.app.state.attachments  # type: ignore[attr-defined]
        url = f"http://localhost:{server.server_address[1]}/Media/ME123"
        ref = client.portal.call(lambda: attachments.fetch(url, uploaded_by="sms:test"))  # type: ignore[union-attr]
    finally:
        server.shutdown()
        server.server_close()
    assert ref.kind is AttachmentKind.PHOTO and not has_gps(blob(blobs, Area.SHARED, ref.sha256))
    assert [r["uploaded_by"] for r in rows(database)] == ["sms:test"]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint on loopback: moto's server, in a thread of this process."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"eds-{free_port()}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = s3_client(endpoint)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


async def test_s3_blob_store_names_blobs_by_content(s3_endpoint: str, bucket: str) -> None:
    store = S3BlobStore(
        bucket=bucket,
        prefix="/eungdapso/",
        endpoint_url=s3_endpoint,
        access_key_id="k",
        secret_access_key=SecretStr("s"),
    )
    name = await store.put(Area.ORIGINALS, PDF)
    assert name == hashlib.sha256(PDF).hexdigest()
    assert await store.put(Area.ORIGINALS, PDF) == name
    assert await store.get(Area.ORIGINALS, name) == PDF
    assert await store.exists(Area.ORIGINALS, name) and not await store.exists(Area.SHARED, name)
    with pytest.raises(BlobNotFound):
        await store.get(Area.SHARED, name)
    assert s3_objects(s3_endpoint, bucket) == {f"eungdapso/originals/{name}": PDF}


def test_uploads_land_in_the_bucket_blob_store_url_names(
    database: PostgresTarget, s3_endpoint: str, bucket: str
) -> None:
    settings = settings_for(
        database,
        blob_store_url=f"s3://{bucket}/seoul",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    original = photo("JPEG")
    with TestClient(bootstrap(settings)) as client:
        ref = upload(client, original).json()
    objects = s3_objects(s3_endpoint, bucket)
    original_sha256 = hashlib.sha256(original).hexdigest()
    assert set(objects) == {f"seoul/shared/{ref['sha256']}", f"seoul/originals/{original_sha256}"}
    assert not has_gps(objects[f"seoul/shared/{ref['sha256']}"]) and has_gps(
        objects[f"seoul/originals/{original_sha256}"]
    )


def test_anonymous_uploads_are_limited_per_address(database: PostgresTarget, blobs: Path) -> None:
    """Uploads are anonymous like the web form: one address cannot fill the blob store."""
    settings = settings_for(database, attachments_dir=blobs, web_rate_per_minute=1)
    with TestClient(bootstrap(settings)) as c:
        answers = [upload(c, photo("PNG", (8 + i, 8)), name="p.png") for i in range(5)]
    assert [a.status_code for a in answers[:4]] == [201] * 4
    refused = answers[4]
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1
    assert len(rows(database)) == 4
