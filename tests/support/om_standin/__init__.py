"""An in-process stand-in for the OpenMetadata 2.0.x REST API (MLflow ingestion subset).

The real OpenMetadata server is a Java service that cannot run in the test environment.
This package answers the calls that an MLflow ``metadata ingest`` run makes (see the
reference ``openmetadata-ingestion.md`` sections 4-6) with the same paths, JSON bodies,
status codes and ``{"code": <int>, "message": "..."}`` error bodies, so that client code
written against it also works against a real server.  Every request is recorded so that
tests can assert on exactly what was sent.  Faults can be injected on demand (error statuses with
or without ``Retry-After``, slow answers, connection resets, partial bulk failures; see
``OpenMetadataStandIn.inject``), and the requests that met one are recorded with it.

Standard library only: a ``ThreadingHTTPServer`` in a daemon thread, optionally behind TLS. The parts,
one concern each:

- ``schema``: what the server accepts and keeps (create requests, statuses, errors, managed fields);
- ``http_server``: the HTTP server and handler (reads a request whole, writes the answer, late or cut);
- ``request_log`` and ``faults``: what a test reads (the requests received) and steers (injected faults);
- ``routing``: one request's way through recording, faults, auth and the route table;
- ``services``, ``models``, ``pipelines``: the routes over each kind of entity;
- ``standin``: ``OpenMetadataStandIn``, made of the above, with its state and its lifecycle.

    with OpenMetadataStandIn(token="secret") as om:
        run_ingestion(host_port=om.url, jwt="secret")
        assert om.requests_to("PUT", "/v1/mlmodels/bulk")

        fault = om.inject("PUT", "/v1/mlmodels/bulk", status=503, times=2)
        run_ingestion(host_port=om.url, jwt="secret")
        assert fault.hits == 2
"""

from tests.support.om_standin.faults import Fault
from tests.support.om_standin.request_log import RecordedRequest
from tests.support.om_standin.schema import SERVER_MANAGED_FIELDS, fqn_part
from tests.support.om_standin.standin import OpenMetadataStandIn

__all__ = ["SERVER_MANAGED_FIELDS", "Fault", "OpenMetadataStandIn", "RecordedRequest", "fqn_part"]
