"""With the gRPC port's --tls-* files the HTTP port serves HTTPS (and mTLS) too, never
plaintext: an operator who asked for TLS gets no cleartext port by accident; a SIGHUP
reload of the files reaches it as it reaches the gRPC port."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.request

import pytest

from tests.support.certificates import make_pki
from tests.web.conftest import serve_http

REFUSED = (urllib.error.URLError, http.client.HTTPException, ssl.SSLError, ConnectionError)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def list_graphs(url: str, context: ssl.SSLContext | None) -> dict:
    request = urllib.request.Request(
        url + "/hypergraph.v1.RunnerService/ListGraphs",
        data=b"{}",
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())


def test_the_http_port_serves_https_with_the_servers_certificate(pki):
    with serve_http("--tls-cert", pki.server.cert, "--tls-key", pki.server.key) as server:
        assert server.http_url.startswith("https://")
        trusted = ssl.create_default_context(cafile=pki.ca)
        assert "chat" in [g["name"] for g in list_graphs(server.http_url, trusted)["graphs"]]
        with pytest.raises(REFUSED):  # no answer in plaintext
            list_graphs(server.http_url.replace("https://", "http://"), None)


def test_with_a_client_ca_the_http_port_asks_for_a_client_certificate(pki):
    with serve_http(
        "--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-client-ca", pki.ca
    ) as server:
        trusted = ssl.create_default_context(cafile=pki.ca)
        with pytest.raises(REFUSED):
            list_graphs(server.http_url, trusted)
        trusted.load_cert_chain(pki.client.cert, pki.client.key)
        assert list_graphs(server.http_url, trusted)["graphs"]


def test_sighup_swaps_the_http_ports_certificate_for_new_connections(pki, tmp_path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki.server.cert, cert)
    shutil.copy(pki.server.key, key)
    with serve_http("--tls-cert", str(cert), "--tls-key", str(key)) as server:
        assert list_graphs(server.http_url, ssl.create_default_context(cafile=pki.ca))
        shutil.copy(pki.other_server.cert, cert)
        shutil.copy(pki.other_server.key, key)
        server.popen.send_signal(signal.SIGHUP)
        renewed = ssl.create_default_context(cafile=pki.other_ca)
        for _ in range(100):  # the signal is handled asynchronously
            try:
                assert list_graphs(server.http_url, renewed)["graphs"]
                break
            except REFUSED:
                time.sleep(0.1)
        else:
            pytest.fail(f"the HTTP port never served the new certificate\n{server.log()}")
        with pytest.raises(REFUSED):  # the old certificate is gone from new connections
            list_graphs(server.http_url, ssl.create_default_context(cafile=pki.ca))
        assert server.popen.poll() is None


def test_a_sighup_with_unusable_files_keeps_the_http_ports_certificate(pki, tmp_path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki.server.cert, cert)
    shutil.copy(pki.server.key, key)
    with serve_http("--tls-cert", str(cert), "--tls-key", str(key)) as server:
        shutil.copy(pki.other_server.cert, cert)  # a certificate without its own key
        server.popen.send_signal(signal.SIGHUP)
        for _ in range(100):  # the signal is handled asynchronously
            if "TLS reload failed" in server.log():
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the reload was never refused\n{server.log()}")
        trusted = ssl.create_default_context(cafile=pki.ca)
        assert "chat" in [g["name"] for g in list_graphs(server.http_url, trusted)["graphs"]]
        assert server.popen.poll() is None
