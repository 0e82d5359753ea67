"""Tests for the OpenMetadata stand-in: it must answer like the real server (reference §4-6),
otherwise tests built on it prove nothing about the real thing."""

from __future__ import annotations

import datetime
import ssl

import pytest
import requests

from tests.support.om_standin import OpenMetadataStandIn, fqn_part

TOKEN = "secret-jwt"
BULK = "/v1/mlmodels/bulk?async=false&overrideMetadata=false"


@pytest.fixture
def om():
    with OpenMetadataStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        yield session


def create_service(om, http, name="mlflow_svc"):
    body = {"name": name, "serviceType": "Mlflow",
            "connection": {"config": {"type": "Mlflow", "trackingUri": "http://127.0.0.1:15000",
                                      "registryUri": "http://127.0.0.1:15000"}}}
    return http.put(f"{om.url}/v1/services/mlmodelServices", json=body)


def model(name, service="mlflow_svc", **extra):
    create = {"name": name, "algorithm": "mlmodel", "service": service,
              "mlFeatures": [{"name": "f1", "dataType": "numerical"}],
              "mlHyperParameters": [{"name": "lr", "value": "0.01"}],
              "mlStore": {"storage": f"mlflow-artifacts:/0/{name}/artifacts"},
              "sourceUrl": f"http://127.0.0.1:15000/#/models/{name}",
              "sourceHash": "ac46e881a805211494fe1a52a1d3699f"}
    create.update(extra)
    return create


def bulk(om, http, creates):
    response = http.put(om.url + BULK, json=creates)
    assert response.status_code == 200, response.text
    return response.json()


# ---- system -----------------------------------------------------------------------------------

def test_version_and_test_connection_definition(om, http):
    version = http.get(f"{om.url}/v1/system/version")
    assert version.status_code == 200
    assert version.headers["content-type"] == "application/json"
    assert version.json()["version"] == "2.0.7"
    assert set(version.json()) == {"version", "revision", "timestamp"}

    definition = http.get(f"{om.url}/v1/services/testConnectionDefinitions/name/Mlflow.testConnectionDefinition")
    assert definition.status_code == 200
    assert [s["name"] for s in definition.json()["steps"]] == ["GetModels"]
    assert definition.json()["steps"][0]["mandatory"] is True


# ---- services ---------------------------------------------------------------------------------

def test_service_create_update_and_get_by_quoted_fqn(om, http):
    missing = http.get(f"{om.url}/v1/services/mlmodelServices/name/mlflow_svc", params={"fields": "*"})
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "message": "mlmodelService instance for mlflow_svc not found"}

    created = create_service(om, http)
    assert created.status_code == 201
    entity = created.json()
    assert entity["fullyQualifiedName"] == "mlflow_svc" and entity["version"] == 0.1
    assert entity["updatedBy"] == "ingestion-bot" and entity["deleted"] is False
    assert create_service(om, http).status_code == 200  # identical -> update, no version bump
    assert om.services["mlflow_svc"]["version"] == 0.1

    dotted = create_service(om, http, name="my.svc").json()
    assert dotted["fullyQualifiedName"] == '"my.svc"'
    found = http.get(f"{om.url}/v1/services/mlmodelServices/name/%22my.svc%22")
    assert found.status_code == 200 and found.json()["id"] == dotted["id"]
    # An unquoted dotted name is a two-part FQN on the server: not found.
    assert http.get(f"{om.url}/v1/services/mlmodelServices/name/my.svc").status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "", "serviceType": "Mlflow"},
    {"serviceType": "Mlflow"},
    {"name": "svc", "serviceType": "Bogus"},
    {"name": "svc", "serviceType": "Mlflow", "unknownKey": 1},
])
def test_service_validation_errors_are_400_json(om, http, body):
    response = http.put(f"{om.url}/v1/services/mlmodelServices", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400 and response.json()["message"]
    assert om.services == {}


# ---- model upserts ----------------------------------------------------------------------------

def test_bulk_upsert_with_rejected_model_is_partial_success(om, http):
    create_service(om, http)
    om.fail_models.add("bad")
    result = bulk(om, http, [model("m1"), model("bad"), model("my.model")])

    assert result["status"] == "partialSuccess"
    assert (result["numberOfRowsProcessed"], result["numberOfRowsPassed"], result["numberOfRowsFailed"]) == (3, 2, 1)
    assert result["successRequest"] == [{"request": "mlflow_svc.m1", "status": 200},
                                        {"request": 'mlflow_svc."my.model"', "status": 200}]
    assert result["failedRequest"] == [{"request": model("bad"), "status": 400,
                                        "message": "Invalid request: bad rejected by test"}]
    assert result["dryRun"] is False

    stored = om.models["mlflow_svc.m1"]
    assert stored["service"]["type"] == "mlmodelService"
    assert stored["service"]["id"] == om.services["mlflow_svc"]["id"]
    assert stored["sourceHash"] == "ac46e881a805211494fe1a52a1d3699f"
    assert "mlflow_svc.bad" not in om.models
    recorded = om.requests_to("PUT", "/v1/mlmodels/bulk")[0]
    assert recorded.query == {"async": "false", "overrideMetadata": "false"}
    assert recorded.body[0]["name"] == "m1"


def test_bulk_item_errors_and_all_failed_is_failure(om, http):
    create_service(om, http)
    result = bulk(om, http, [
        model("x", service="nope"),
        model("y", mlFeatures=[{"name": "f", "dataType": "FeatureType.numerical"}]),
        model("z", typo=True),
        {"name": "w", "service": "mlflow_svc"},  # algorithm missing
        model('quo"te'),
    ])
    assert result["status"] == "failure" and result["numberOfRowsFailed"] == 5
    assert [f["status"] for f in result["failedRequest"]] == [404, 400, 400, 400, 400]
    assert result["failedRequest"][0]["message"].startswith("service not found")
    assert 'Unrecognized field "typo"' in result["failedRequest"][2]["message"]
    assert om.models == {}


def test_reupsert_keeps_version_and_change_bumps_it(om, http):
    create_service(om, http)
    bulk(om, http, [model("m1")])
    first = dict(om.models["mlflow_svc.m1"])

    again = bulk(om, http, [model("m1")])
    assert again["status"] == "success"
    unchanged = om.models["mlflow_svc.m1"]
    assert (unchanged["version"], unchanged["updatedAt"]) == (0.1, first["updatedAt"])

    bulk(om, http, [model("m1", description="now described", sourceHash="0" * 32)])
    changed = om.models["mlflow_svc.m1"]
    assert changed["version"] == 0.2 and changed["updatedAt"] > first["updatedAt"]
    assert changed["id"] == first["id"] and changed["description"] == "now described"


def test_single_put_creates_then_updates(om, http):
    create_service(om, http)
    assert http.put(f"{om.url}/v1/mlmodels", json=model("m1")).status_code == 201
    assert http.put(f"{om.url}/v1/mlmodels", json=model("m1")).status_code == 200
    missing_service = http.put(f"{om.url}/v1/mlmodels", json=model("m2", service="nope"))
    assert missing_service.status_code == 404 and missing_service.json()["code"] == 404
    om.fail_models.add("m3")
    rejected = http.put(f"{om.url}/v1/mlmodels", json=model("m3"))
    assert rejected.json() == {"code": 400, "message": "Invalid request: m3 rejected by test"}


# ---- deletion ---------------------------------------------------------------------------------

def test_delete_stale_empty_seen_deletes_nothing_subset_deletes_rest(om, http):
    create_service(om, http)
    bulk(om, http, [model("a"), model("b"), model("c")])
    url = f"{om.url}/v1/mlmodels/deleteStale"
    scope = {"scopeFqn": "mlflow_svc", "scopeEntityType": "service", "recursive": True}

    nothing = http.delete(url, json={**scope, "seenFqns": []}).json()
    assert nothing["successRequest"] == [] and nothing["status"] == "success"
    assert http.delete(url, json={**scope, "scopeFqn": "other", "seenFqns": ["x.y"]}).json()["successRequest"] == []
    assert not any(m["deleted"] for m in om.models.values())

    result = http.delete(url, json={**scope, "seenFqns": ["mlflow_svc.a"]}).json()
    assert [r["request"] for r in result["successRequest"]] == ["mlflow_svc.b", "mlflow_svc.c"]
    assert om.models["mlflow_svc.b"]["deleted"] is True and om.models["mlflow_svc.b"]["version"] == 0.2
    listed = http.get(f"{om.url}/v1/mlmodels", params={"service": "mlflow_svc"}).json()
    assert [m["name"] for m in listed["data"]] == ["a"]
    deleted = http.get(f"{om.url}/v1/mlmodels", params={"service": "mlflow_svc", "include": "deleted"}).json()
    assert [m["name"] for m in deleted["data"]] == ["b", "c"]

    bulk(om, http, [model("b")])  # upserting a soft-deleted model restores it
    assert om.models["mlflow_svc.b"]["deleted"] is False and om.models["mlflow_svc.b"]["version"] == 0.3


def test_delete_by_id_soft_then_hard(om, http):
    create_service(om, http)
    bulk(om, http, [model("m1")])
    model_id = om.models["mlflow_svc.m1"]["id"]
    soft = http.delete(f"{om.url}/v1/mlmodels/{model_id}", params={"recursive": "true", "hardDelete": "false"})
    assert soft.status_code == 200 and soft.json()["deleted"] is True
    assert http.get(f"{om.url}/v1/mlmodels/name/mlflow_svc.m1").status_code == 404
    assert http.get(f"{om.url}/v1/mlmodels/name/mlflow_svc.m1", params={"include": "all"}).status_code == 200
    hard = http.delete(f"{om.url}/v1/mlmodels/{model_id}", params={"hardDelete": "true"})
    assert hard.status_code == 200 and om.models == {}
    assert http.delete(f"{om.url}/v1/mlmodels/{model_id}").json()["code"] == 404


# ---- listing ----------------------------------------------------------------------------------

def test_list_pages_with_after_cursor_over_250_models(om, http):
    create_service(om, http)
    assert bulk(om, http, [model(f"m{i:03d}") for i in range(250)])["numberOfRowsPassed"] == 250

    names, after, pages = [], None, 0
    while True:
        params = {"service": "mlflow_svc", "limit": 100, **({"after": after} if after else {})}
        page = http.get(f"{om.url}/v1/mlmodels", params=params).json()
        pages += 1
        assert page["paging"]["total"] == 250
        names += [m["name"] for m in page["data"]]
        assert all(m["sourceHash"] for m in page["data"])
        after = page["paging"].get("after")
        if after is None:
            break
    assert pages == 3 and names == [f"m{i:03d}" for i in range(250)]
    assert len(http.get(f"{om.url}/v1/mlmodels").json()["data"]) == 10  # default limit
    too_big = http.get(f"{om.url}/v1/mlmodels", params={"limit": 1_000_001})
    assert too_big.status_code == 400 and too_big.json()["code"] == 400


# ---- auth, prefixes, feature switches ---------------------------------------------------------

def test_auth_requires_the_bearer_token_everywhere(om):
    url = f"{om.url}/v1/system/version"
    missing = requests.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"code": 401, "message": "Not Authorized! Token not present"}
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.json() == {"code": 401, "message": "Not Authorized! Invalid token"}
    assert requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_token_validator_replaces_equality():
    with OpenMetadataStandIn(token_validator=lambda t: t.startswith("eyJ")) as om:
        url = f"{om.url}/v1/system/version"
        assert requests.get(url, headers={"Authorization": "Bearer eyJabc"}).status_code == 200
        assert requests.get(url, headers={"Authorization": "Bearer abc"}).status_code == 401


def test_outside_api_prefix_is_html_404_and_html_root_is_200(om):
    response = requests.get(f"{om.root_url}/v1/system/version")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html><body>Not Found</body></html>"
    with OpenMetadataStandIn(html_root=True) as web:
        page = requests.get(f"{web.url}/v1/system/version")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_custom_prefix_and_unknown_api_path(http):
    with OpenMetadataStandIn(api_prefix="/om/api/", token=TOKEN) as om:
        assert om.url.endswith("/om/api")
        assert http.get(f"{om.url}/v1/system/version").status_code == 200
        unknown = http.get(f"{om.url}/v1/tables")
        assert unknown.status_code == 404
        assert unknown.json() == {"code": 404, "message": "HTTP 404 Not Found"}


def test_old_server_without_bulk_or_delete_stale_answers_json_404(http):
    with OpenMetadataStandIn(token=TOKEN, bulk=False, delete_stale=False) as om:
        create_service(om, http)
        response = http.put(om.url + BULK, json=[model("m1")])
        assert response.status_code == 404 and response.json()["code"] == 404
        stale = http.delete(f"{om.url}/v1/mlmodels/deleteStale",
                            json={"scopeFqn": "mlflow_svc", "scopeEntityType": "service", "seenFqns": []})
        assert stale.status_code == 404 and stale.json()["code"] == 404
        assert http.put(f"{om.url}/v1/mlmodels", json=model("m1")).status_code == 201


def test_status_override_malformed_json_and_media_type(om, http):
    om.status_override[("GET", "/v1/system/version")] = 504
    forced = http.get(f"{om.url}/v1/system/version")
    assert (forced.status_code, forced.json()) == (504, {"code": 504, "message": "forced"})

    malformed = http.put(om.url + BULK, data="[{not json")
    assert malformed.json() == {"code": 400, "message": "Unable to process JSON"}
    assert om.requests_to("PUT", BULK)[-1].body is None
    form = requests.put(om.url + BULK, data="[]", headers={"Authorization": f"Bearer {TOKEN}",
                                                          "Content-Type": "text/plain"})
    assert form.status_code == 415


# ---- injected faults --------------------------------------------------------------------------

def test_injected_status_answers_like_the_server_then_is_spent(om, http):
    create_service(om, http)
    fault = om.inject("PUT", BULK, status=503, message="maintenance", retry_after=7, times=2)
    for _ in range(2):
        refused = http.put(om.url + BULK, json=[model("m1")])
        assert (refused.status_code, refused.json()) == (503, {"code": 503, "message": "maintenance"})
        assert refused.headers["Retry-After"] == "7"
    assert om.models == {}  # refused before it was handled
    assert bulk(om, http, [model("m1")])["status"] == "success"
    assert fault.hits == 2
    assert [r.fault for r in om.requests_to("PUT", BULK)] == [fault, fault, None]


def test_injected_faults_match_method_and_path_suffix_in_order(om, http):
    create_service(om, http)
    first = om.inject("PUT", "/v1/mlmodels", status=500)
    then = om.inject("PUT", "/v1/mlmodels", status=429, times=None)
    assert bulk(om, http, [model("m1")])["status"] == "success"  # /bulk does not end with /v1/mlmodels
    assert http.get(f"{om.url}/v1/mlmodels").status_code == 200  # another method
    statuses = [http.put(f"{om.url}/v1/mlmodels", json=model("m2")).status_code for _ in range(3)]
    assert statuses == [500, 429, 429]
    assert "Retry-After" not in http.put(f"{om.url}/v1/mlmodels", json=model("m2")).headers
    assert (first.hits, then.hits) == (1, 3)
    om.clear_faults()
    assert http.put(f"{om.url}/v1/mlmodels", json=model("m2")).status_code == 201


def test_injected_partial_bulk_failure_stores_the_others(om, http):
    create_service(om, http)
    fault = om.inject("PUT", BULK, partial_bulk_fail={"m2"}, message="lock timeout")
    result = bulk(om, http, [model("m1"), model("m2"), model("m3")])
    assert result["status"] == "partialSuccess"
    assert result["failedRequest"] == [{"request": model("m2"), "message": "lock timeout", "status": 500}]
    assert sorted(om.models) == ["mlflow_svc.m1", "mlflow_svc.m3"]
    assert bulk(om, http, [model("m2")])["status"] == "success" and fault.hits == 1


def test_injected_delay_handles_the_request_before_answering_late(om, http):
    create_service(om, http)
    om.inject("PUT", "/v1/mlmodels", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.put(f"{om.url}/v1/mlmodels", json=model("m1"), timeout=(2, 0.2))
    assert om.models["mlflow_svc.m1"]["version"] == 0.1  # written although the client gave up
    again = http.put(f"{om.url}/v1/mlmodels", json=model("m1"), timeout=2)
    assert again.status_code == 200 and len(om.models) == 1  # the same model, not another


def test_injected_reset_cuts_the_answer_after_handling_the_request(om, http):
    create_service(om, http)
    fault = om.inject("PUT", "/v1/mlmodels", reset=True)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        http.put(f"{om.url}/v1/mlmodels", json=model("m1"), timeout=2)
    assert "mlflow_svc.m1" in om.models and fault.hits == 1
    assert http.put(f"{om.url}/v1/mlmodels", json=model("m1"), timeout=2).status_code == 200


def test_inject_refuses_a_fault_that_does_nothing_or_contradicts_itself(om):
    with pytest.raises(ValueError, match="needs a status"):
        om.inject("PUT", BULK)
    with pytest.raises(ValueError, match="not both"):
        om.inject("PUT", BULK, status=500, partial_bulk_fail={"m1"})


# ---- recording and lifecycle ------------------------------------------------------------------

def test_recording_headers_query_and_clear(om, http):
    http.get(f"{om.url}/v1/services/mlmodelServices/name/%22my.svc%22", params={"fields": "*"},
             headers={"User-Agent": "mlflow_metadata (service: my.svc; v2.0.7.0)"})
    (recorded,) = om.requests_to("GET", '/name/"my.svc"')  # decoded suffix matches too
    assert recorded.path == "/api/v1/services/mlmodelServices/name/%22my.svc%22"
    assert recorded.query == {"fields": "*"} and recorded.body is None
    assert recorded.headers["authorization"] == f"Bearer {TOKEN}"
    assert recorded.headers["user-agent"].startswith("mlflow_metadata")
    om.clear_requests()
    assert om.requests == []


def test_stop_makes_it_unreachable_even_for_pooled_connections(http):
    om = OpenMetadataStandIn(token=TOKEN).start()
    url = f"{om.url}/v1/system/version"
    assert http.get(url).status_code == 200  # leaves a keep-alive connection in the pool
    om.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(url, timeout=2)


def test_https_with_a_server_ssl_context(tmp_path, http):
    cert_file, key_file = _self_signed_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    with OpenMetadataStandIn(token=TOKEN, ssl_context=context) as om:
        assert om.url.startswith("https://127.0.0.1:")
        assert http.get(f"{om.url}/v1/system/version", verify=str(cert_file)).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{om.url}/v1/system/version", timeout=2)  # untrusted by default


def test_fqn_part_quotes_only_dotted_names():
    assert fqn_part("svc") == "svc" and fqn_part("a.b") == '"a.b"'


def _self_signed_cert(tmp_path):
    """A throw-away EC certificate for 127.0.0.1 (EC keeps generation fast)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
