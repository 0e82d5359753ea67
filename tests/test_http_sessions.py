"""How the HTTP sessions to MLflow behave under the hood: every call bounded by one shared watchdog
(also in a forked child, as Airflow's task runner forks), and the environment's proxies and
`~/.netrc` honoured as requests would, though read once per session rather than once per call."""
from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from tests.support.hostile_servers import MLFLOW_API, HostileServer, Route, answer, trickle, waited
from workflow.net.bounded_http import AnswerTooSlow, BoundedAdapter
from workflow.registry.mlflow_rest import RestRegistry
from workflow.registry.records import ReadError

LISTING = MLFLOW_API + "/registered-models/search"
ONE_MODEL = {"registered_models": [{"name": "m", "latest_versions": []}]}


def bounded_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", BoundedAdapter(max_bytes=2**20, max_retries=0))
    return session


@pytest.mark.timeout(60)
def test_calls_in_flight_share_one_watchdog_thread():
    in_flight = threading.Barrier(6, timeout=10)
    watchdogs: list[int] = []

    def counted(handler, query):
        in_flight.wait()  # all six calls are waiting for their answer now
        watchdogs.append(sum(1 for t in threading.enumerate() if t.name == "deadline"))
        answer(ONE_MODEL)(handler, query)

    with HostileServer([Route("GET", LISTING, counted)]) as server:
        registry = RestRegistry(server.url, pool_size=6)
        calls = [threading.Thread(target=registry.models_page, args=(10, None)) for _ in range(6)]
        for call in calls:
            call.start()
        for call in calls:
            call.join(20)
        registry.close()
    assert len(watchdogs) == 6
    assert max(watchdogs) == 1, watchdogs


@pytest.mark.timeout(60)
def test_a_forked_child_still_cuts_off_an_answer_that_never_completes():
    """The parent forks while a call of its own is in flight (its watchdog running): the child's
    calls get a watchdog of their own, not the parent's, which did not survive the fork."""
    release = threading.Event()

    def held(handler, query):
        release.wait(20)
        answer(ONE_MODEL)(handler, query)

    with HostileServer([Route("GET", "/held", held), Route("GET", "/trickle", trickle(0.2))]) as server:
        parent = threading.Thread(target=lambda: bounded_session().get(server.url + "/held", timeout=(2, 20)))
        parent.start()
        assert waited(lambda: server.count("/held") == 1)
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only when the trickle is cut off at its deadline
            code = 1
            try:
                bounded_session().get(server.url + "/trickle", timeout=(1, 1))
            except AnswerTooSlow:
                code = 0
            finally:
                os._exit(code)
        end = time.monotonic() + 15
        status = None
        while status is None and time.monotonic() < end:
            done, raw = os.waitpid(pid, os.WNOHANG)
            status = os.waitstatus_to_exitcode(raw) if done else None
            time.sleep(0.05)
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        release.set()
        parent.join(20)
    assert status == 0, "the child's call was not cut off at its deadline"


@pytest.mark.timeout(60)
def test_the_reader_goes_through_the_proxy_the_environment_names(monkeypatch):
    """HTTP_PROXY is honoured (here the proxy answers for a host only it can reach), and NO_PROXY too."""
    with HostileServer([Route("GET", LISTING, answer(ONE_MODEL))]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        registry = RestRegistry("http://mlflow.invalid:5000")
        assert [m.name for m in registry.models_page(10, None).models] == ["m"]
        registry.close()
        assert proxy.count(LISTING) == 1

        monkeypatch.setenv("NO_PROXY", "mlflow.invalid")
        registry = RestRegistry("http://mlflow.invalid:5000")
        with pytest.raises(ReadError, match="did not answer"):  # mlflow.invalid resolves nowhere
            registry.models_page(10, None)
        registry.close()
        assert proxy.count(LISTING) == 1


@pytest.mark.timeout(60)
def test_the_reader_sends_the_netrc_login_when_no_credentials_are_set(monkeypatch, tmp_path):
    sent: list[str | None] = []

    def recorded(handler, query):
        sent.append(handler.headers.get("Authorization"))
        answer(ONE_MODEL)(handler, query)

    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with HostileServer([Route("GET", LISTING, recorded)]) as server:
        registry = RestRegistry(server.url)
        registry.models_page(10, None)
        registry.models_page(10, None)
        registry.close()
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "env-user")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "env-password")
        registry = RestRegistry(server.url)
        registry.models_page(10, None)
        registry.close()
    basic = requests.auth._basic_auth_str  # noqa: SLF001 - how requests encodes a login
    assert sent == [basic("netrc-user", "netrc-password")] * 2 + [basic("env-user", "env-password")]
