"""TLS and mTLS (``serve --tls-cert --tls-key [--tls-client-ca]``) with certificates
made by the test: the Python client and the CLI connect with a CA file and a
client certificate; an untrusted CA, a certificate for another host, a missing,
expired or foreign client certificate are refused; SIGHUP swaps the certificate
for new connections while an open stream goes on."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from hypergraph_grpc.client import AsyncClient, RunStatus, UnavailableError
from hypergraph_grpc.tls import channel_credentials
from tests.support.certificates import Pki, make_pki
from tests.support.server_process import ROOT, ServerProcess, serve_refused

pytestmark = pytest.mark.asyncio

GRAPHS = ("--graphs", "hypergraph_grpc.demo.testing:GRAPHS")
# Each client gets its own connection (gRPC otherwise shares one between channels
# with the same target), so every test sees a fresh TLS handshake.
FRESH = [("grpc.use_local_subchannel_pool", 1)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[ServerProcess]:
    with ServerProcess(*GRAPHS, "--tls-cert", pki.server.cert, "--tls-key", pki.server.key) as proc:
        yield proc


@pytest.fixture(scope="module")
def mtls_server(pki: Pki) -> Iterator[ServerProcess]:
    with ServerProcess(
        *GRAPHS,
        "--tls-cert",
        pki.server.cert,
        "--tls-key",
        pki.server.key,
        "--tls-client-ca",
        pki.ca,
    ) as proc:
        yield proc


def client(target: str, credentials: grpc.ChannelCredentials | None) -> AsyncClient:
    return AsyncClient(target, credentials=credentials, timeout=10, options=FRESH)


async def assert_refused(target: str, credentials: grpc.ChannelCredentials | None) -> None:
    async with client(target, credentials) as refused:
        with pytest.raises(UnavailableError):
            await refused.run("add", {"a": 1, "b": 2})


async def test_the_python_client_runs_and_streams_over_tls_with_a_ca_file(tls_server, pki):
    async with client(tls_server.target, channel_credentials(pki.ca)) as tls:
        assert (await tls.run("add", {"a": 1, "b": 2})).values == {"sum": 3}
        text = [t async for t in tls.stream_text("tokens", {"count": 3, "prefix": "s"})]
        assert "".join(text) == "s0 s1 s2 "


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hypergraph_grpc.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_connects_with_a_ca_file_and_a_client_certificate(mtls_server, pki):
    done = cli(
        "run",
        "add",
        "-i",
        "a=1",
        "-i",
        "b=2",
        "--target",
        mtls_server.target,
        "--tls-ca",
        pki.ca,
        "--tls-cert",
        pki.client.cert,
        "--tls-key",
        pki.client.key,
    )
    assert done.returncode == 0, done.stderr
    assert "3" in done.stdout
    without = cli("graphs", "--target", mtls_server.target, "--tls-ca", pki.ca, "--timeout", "10")
    assert without.returncode != 0
    assert "wants a client certificate (--tls-cert)" in without.stderr
    missing = cli("graphs", "--target", mtls_server.target, "--tls-ca", "/no/such/ca.pem")
    assert missing.returncode == 2 and "cannot read the CA file" in missing.stderr


async def test_a_server_whose_ca_the_client_does_not_trust_is_refused(tls_server, pki):
    await assert_refused(tls_server.target, channel_credentials(pki.other_ca))
    await assert_refused(tls_server.target, None)  # plaintext to a TLS port


async def test_a_certificate_for_another_host_is_refused(pki):
    pair = pki.wrong_host
    with ServerProcess(*GRAPHS, "--tls-cert", pair.cert, "--tls-key", pair.key) as server:
        await assert_refused(server.target, channel_credentials(pki.ca))


async def test_mtls_accepts_a_client_certificate_from_its_ca_only(mtls_server, pki):
    trusted = channel_credentials(pki.ca, pki.client.cert, pki.client.key)
    async with client(mtls_server.target, trusted) as allowed:
        result = await allowed.run("add", {"a": 2, "b": 2})
        assert result.status == RunStatus.COMPLETED and result.values == {"sum": 4}
    await assert_refused(mtls_server.target, channel_credentials(pki.ca))
    expired = pki.expired_client
    await assert_refused(mtls_server.target, channel_credentials(pki.ca, expired.cert, expired.key))
    foreign = pki.other_client
    await assert_refused(mtls_server.target, channel_credentials(pki.ca, foreign.cert, foreign.key))


async def test_sighup_swaps_the_certificate_for_new_connections_and_keeps_open_streams(
    pki, tmp_path: Path
):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki.server.cert, cert)
    shutil.copy(pki.server.key, key)
    with ServerProcess(*GRAPHS, "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        async with client(server.target, channel_credentials(pki.ca)) as before:
            stream = before.stream_text("tokens", {"count": 40, "delay_ms": 25, "prefix": "t"})
            received = [await anext(aiter(stream))]
            shutil.copy(pki.other_server.cert, cert)
            shutil.copy(pki.other_server.key, key)
            server.popen.send_signal(signal.SIGHUP)
            # The signal is handled asynchronously; a failed handshake puts a channel in
            # backoff, so each attempt uses a new one.
            for _ in range(100):
                async with client(server.target, channel_credentials(pki.other_ca)) as after:
                    try:
                        assert (await after.run("add", {"a": 1, "b": 1})).values == {"sum": 2}
                        break
                    except UnavailableError:
                        await asyncio.sleep(0.1)
            else:
                pytest.fail(f"the new certificate was never served\n{server.log()}")
            await assert_refused(server.target, channel_credentials(pki.ca))
            received += [token async for token in stream]
        assert "".join(received) == "".join(f"t{i} " for i in range(40))
        assert "TLS certificate reloaded" in server.log()
        assert server.popen.poll() is None


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (("--tls-cert", "{server.cert}"), "needs both --tls-cert and --tls-key"),
        (("--tls-client-ca", "{ca}"), "needs both --tls-cert and --tls-key"),
        (("--tls-cert", "{server.cert}", "--tls-key", "{client.key}"), "cannot use --tls-cert"),
        (
            ("--tls-cert", "{server.cert}", "--tls-key", "{server.key}", "--tls-client-ca", "/no"),
            "cannot use --tls-client-ca",
        ),
    ],
)
async def test_serve_refuses_tls_flags_it_cannot_use(pki, flags, complaint):
    done = serve_refused(*GRAPHS, *(flag.format(**vars(pki)) for flag in flags))
    assert done.returncode == 2
    assert complaint in done.stderr and "How to fix" in done.stderr
