"""Security: secrets never appear in logs, tables, outputs or error messages; the config holds
only hashes; the API turns away unauthenticated callers and oversized bodies; export links
cannot be forged, stretched or reused for another app.

The secrets are the bundled local config's (domain/default_app_config.yaml): public by
design, which makes them safe to grep for.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.config import parse_config
from tests.support import REPO
from tests.support.secrets import CONFIG, HASHES, SECRETS, assert_no_secret

PLAINTEXT_CONFIG = """
apps:
  - app_id: leaky
    branch_key: key_live_leaky
    branch_secret: secret_live_local_default
"""


def test_config_rejects_a_plaintext_branch_secret():
    with pytest.raises(ValidationError) as caught:
        parse_config(PLAINTEXT_CONFIG)
    errors = caught.value.errors()
    assert any(e["loc"][-1] == "branch_secret" and e["type"] == "extra_forbidden" for e in errors)
    assert any(e["loc"][-1] == "branch_secret_hash" and e["type"] == "missing" for e in errors)


@pytest.mark.parametrize("text", [PLAINTEXT_CONFIG, PLAINTEXT_CONFIG.replace("branch_secret:", "branch_secret_hash:")])
def test_config_errors_do_not_echo_the_secret(text):
    with pytest.raises(ValidationError) as caught:
        parse_config(text)
    assert_no_secret(str(caught.value), "config validation error")


def test_bundled_config_stores_only_hashes():
    raw = (REPO / "domain" / "default_app_config.yaml").read_text()
    data_lines = [line for line in raw.splitlines() if not line.lstrip().startswith("#")]
    for secret in SECRETS:
        assert secret not in "\n".join(data_lines)
    assert all(h.startswith("pbkdf2_sha256$") for h in HASHES)


def _cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", *args], input=stdin, capture_output=True, cwd=REPO, timeout=120
    )


def test_cli_output_and_logs_carry_no_secret():
    from tools.samples import generate_sample

    now = datetime.now(UTC)
    lines = b"\n".join(m.data for m in generate_sample(200, seed=7, now=now)) + b"\n"
    done = _cli("map", "--summary", "--explain", stdin=lines)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_no_secret(done.stdout.decode(errors="replace"), "segment-branch map stdout")
    assert_no_secret(done.stderr.decode(errors="replace"), "segment-branch map stderr")
    for key in ("key_live_local_web", "key_live_nobody"):
        done = _cli("map", "--explain", "--branch-key", key, stdin=lines[:5000].rsplit(b"\n", 1)[0])
        assert done.returncode == 0
        assert_no_secret(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"), "map " + key)


def test_hash_secret_cli_prints_only_a_salted_hash():
    from domain.credentials import verify_secret

    first = _cli("hash-secret", stdin=b"secret_live_local_default\n")
    second = _cli("hash-secret", stdin=b"secret_live_local_default\n")
    assert first.returncode == 0 and "secret_live_local_default" not in (first.stdout + first.stderr).decode()
    hashed = first.stdout.decode().strip()
    assert verify_secret("secret_live_local_default", hashed) and hashed != second.stdout.decode().strip()


# ------------------------------------------------------------------ serving app


@pytest.fixture
def api(monkeypatch, tmp_path):
    pytest.importorskip("serving.app")
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.export import ExportSettings
    from serving.settings import ServingSettings
    from serving.signing import Signer

    # No BigQuery is reached by the requests below: auth and size checks come first.
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    app = create_app(
        ServingSettings("local-project", "nowhere"), export_settings=ExportSettings(str(tmp_path), Signer(b"k" * 32))
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


QUERY = {"start_date": "2026-11-01", "end_date": "2026-11-02", "data_source": "eo_commerce_event"}


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"branch_key": "key_live_local_default"},
        {"branch_key": "key_live_local_default", "branch_secret": "wrong"},
        {"branch_key": "key_live_local_default", "branch_secret": "secret_live_local_web"},  # another app's secret
        {"branch_key": "key_live_local_web", "branch_secret": "secret_live_local_default"},
        {"branch_key": "key_live_nobody", "branch_secret": "secret_live_local_default"},
        {"branch_key": ["key_live_local_default"], "branch_secret": "secret_live_local_default"},
        {"branch_key": "key_live_local_default", "branch_secret": {"$ne": ""}},
        {"branch_key": "key_live_local_default", "branch_secret": ""},
        {"branch_key": "key_live_local_default", "branch_secret": HASHES[0]},  # the hash is not the secret
    ],
)
@pytest.mark.parametrize("path", ["/v1/query/analytics", "/v3/export"])
def test_api_refuses_bad_credentials_as_branch_and_echoes_nothing(api, caplog, credentials, path):
    caplog.set_level(logging.DEBUG)
    body = {**QUERY, "export_date": "2026-11-01", **credentials}
    response = api.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": {"code": 400, "message": "Authentication failed !"}}
    assert_no_secret(response.text, "400 body")
    assert_no_secret(caplog.text, "server logs")


def test_a_secret_with_trailing_nul_bytes_is_not_the_secret():
    # (Checked on the auth function: through the API the request would go on to BigQuery.)
    from serving.auth import authenticate

    assert authenticate(CONFIG, "key_live_local_default", "secret_live_local_default") is not None
    assert authenticate(CONFIG, "key_live_local_default", "secret_live_local_default\u0000") is None


def test_api_authenticates_before_it_validates(api):
    # An unauthenticated caller learns nothing about the body's validity.
    response = api.post("/v1/query/analytics", json={"branch_key": "key_live_local_default", "dimensions": ["'"]})
    assert response.json() == {"error": {"code": 400, "message": "Authentication failed !"}}


@pytest.mark.parametrize("path", ["/v1/query/analytics", "/v3/export"])
def test_api_refuses_oversized_bodies_with_413(api, path):
    big = {
        **QUERY,
        "branch_key": "key_live_local_default",
        "branch_secret": "secret_live_local_default",
        "filters": {"name": ["x" * 70_000]},
    }
    assert api.post(path, json=big).status_code == 413

    def chunks():  # no Content-Length: streamed, chunked
        yield b'{"pad": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    response = api.post(path, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert api.post(
        path, content=b"{}", headers={"Content-Length": "abc", "Content-Type": "application/json"}
    ).status_code in (400, 413)


def test_api_error_for_a_bad_body_does_not_echo_the_secret(api):
    body = {
        **QUERY,
        "branch_key": "key_live_local_default",
        "branch_secret": "secret_live_local_default",
        "dimensions": ["bogus"],
        "start_date": 12,
        "unexpected": 1,
    }
    response = api.post("/v1/query/analytics", json=body)
    assert response.status_code == 400
    assert_no_secret(response.text, "400 body")


def test_export_links_cannot_be_forged_stretched_or_reused_for_another_app():
    from serving.export import UrlSigner
    from serving.signing import Signer

    now = [1_000_000.0]
    signer = UrlSigner(Signer(b"k" * 32), clock=lambda: now[0])
    expires, signature = signer.sign("local-app", "2026-11-01/eo_commerce_event-0.csv.gz", timedelta(hours=1))
    path = "2026-11-01/eo_commerce_event-0.csv.gz"
    assert signer.verify("local-app", path, str(expires), signature)
    assert not signer.verify("local-web-app", path, str(expires), signature)  # another app
    assert not signer.verify("local-app", "2026-11-02/eo_commerce_event-0.csv.gz", str(expires), signature)
    assert not signer.verify("local-app", path, str(expires + 3600), signature)  # stretched
    assert not signer.verify("local-app", path, str(expires), signature[:-1] + ("A" if signature[-1] != "A" else "B"))
    assert not signer.verify("local-app", path, "", "")
    now[0] = expires + 1
    assert not signer.verify("local-app", path, str(expires), signature)  # expired
    assert not UrlSigner(Signer(b"other" * 8), clock=lambda: 0).verify("local-app", path, str(expires), signature)


def test_a_forged_expiry_with_unicode_digits_is_a_403_not_a_500(api):
    response = api.get("/v3/export/files/local-app/2026-11-01/x.csv.gz", params={"expires": "\u00b2", "signature": "0"})
    assert response.status_code == 403


# ------------------------------------------------------------------ the pipeline
