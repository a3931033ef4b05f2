"""TLS for the server and its clients: certificate files, reloading them, the peer's identity.

:class:`ServerTls` is what ``serve --tls-cert --tls-key [--tls-client-ca]`` says.
It reads and checks the files when built (a bad path or a key that does not
match its certificate stops ``serve`` with a message), gives the server
credentials, and :meth:`ServerTls.reload` reads the files again (``serve`` calls
it on SIGHUP): new connections get the new certificate, open connections and
their streams are untouched. A reload that fails keeps the current files.

With a client CA (mTLS) every client must present a certificate that CA signed;
:func:`peer_identity` gives the verified subject to authorization.

:func:`channel_credentials` is the client side: trust a CA file or the system
roots, optionally present a client certificate.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from pathlib import Path

import grpc

__all__ = ["ServerTls", "TlsError", "channel_credentials", "peer_identity"]

log = logging.getLogger("hypergraph_grpc.tls")


class TlsError(ValueError):
    """A certificate, key or CA file that cannot be used (the message says how to fix it)."""


@dataclasses.dataclass(frozen=True)
class _Files:
    """One consistent read of the certificate, key and client CA files."""

    cert: bytes
    key: bytes
    client_ca: bytes | None

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], self.client_ca)


class ServerTls:
    """The server's certificate and key (PEM files), and the CA that signs client
    certificates when clients must present one (mTLS)."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self._current = _read(cert_file, key_file, client_ca_file)
        # Set by reload(), handed to gRPC at the next handshake (then None: no change).
        self._pending: grpc.ServerCertificateConfiguration | None = None
        # The HTTP port's contexts, given the new files on reload (see follow()).
        self._followers: list[ssl.SSLContext] = []

    @property
    def requires_client_certificate(self) -> bool:
        return self.client_ca_file is not None

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials whose certificate :meth:`reload` can replace."""
        return grpc.dynamic_ssl_server_credentials(
            self._current.configuration(),
            self._next_configuration,
            require_client_authentication=self.requires_client_certificate,
        )

    def reload(self) -> bool:
        """Read the files again; the next new connection uses them. False (and the
        current files stay) when they cannot be used; the log says why."""
        try:
            files = _read(self.cert_file, self.key_file, self.client_ca_file)
            changed = files != self._current
            if changed:
                for context in self._followers:
                    self._load_into(context)
        except (TlsError, OSError, ssl.SSLError) as exc:  # OSError/SSLError: changed again
            log.error(
                "TLS reload failed, keeping the current certificate", extra={"error": str(exc)}
            )
            return False
        if changed:
            self._current = files
            self._pending = files.configuration()
        log.info("TLS certificate reloaded", extra={"cert": self.cert_file})
        return True

    def follow(self, context: ssl.SSLContext) -> None:
        """Have :meth:`reload` load the new files into ``context`` as well (the HTTP
        port's): its next handshakes use them, open connections keep theirs."""
        self._followers.append(context)

    def _load_into(self, context: ssl.SSLContext) -> None:
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            # Adds to the CAs already trusted; a CA taken out is trusted until restart.
            context.load_verify_locations(cafile=self.client_ca_file)

    def _next_configuration(self) -> grpc.ServerCertificateConfiguration | None:
        # gRPC calls this before every TLS handshake: keep it to an attribute swap.
        configuration, self._pending = self._pending, None
        return configuration


def _read(cert_file: str, key_file: str, client_ca_file: str | None) -> _Files:
    """The files' bytes, after checking that the key matches the certificate and that
    the CA file holds certificates."""
    check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        check.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            f"cannot use --tls-cert {cert_file!r} with --tls-key {key_file!r}: {exc}. How to fix: "
            "give readable PEM files, the certificate (chain) and its own private key"
        ) from None
    client_ca = None
    if client_ca_file is not None:
        try:
            check.load_verify_locations(cafile=client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(
                f"cannot use --tls-client-ca {client_ca_file!r}: {exc}. How to fix: give a "
                "readable PEM file with the CA certificate(s) that sign client certificates"
            ) from None
        client_ca = Path(client_ca_file).read_bytes()
    return _Files(Path(cert_file).read_bytes(), Path(key_file).read_bytes(), client_ca)


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The verified subject of the caller's client certificate (``CN=alice,O=...``),
    or None on a connection without one (plaintext, or TLS without mTLS)."""
    auth = context.auth_context() or {}
    subjects = auth.get("x509_subject") or ()
    if not subjects:
        return None
    subject = subjects[0]
    return subject.decode("utf-8", "replace") if isinstance(subject, bytes) else str(subject)


def channel_credentials(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> grpc.ChannelCredentials:
    """Client credentials: trust ``ca_file`` (PEM), or the system roots when None; present
    the client certificate ``cert_file`` with its ``key_file`` when the server wants one."""
    if (cert_file is None) != (key_file is None):
        raise TlsError(
            "a client certificate needs both its certificate and its key file. How to fix: "
            "give both (--tls-cert and --tls-key), or neither"
        )

    def read(path: str | None, what: str) -> bytes | None:
        if path is None:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise TlsError(f"cannot read the {what} {path!r}: {exc.strerror}") from None

    return grpc.ssl_channel_credentials(
        root_certificates=read(ca_file, "CA file"),
        private_key=read(key_file, "client key"),
        certificate_chain=read(cert_file, "client certificate"),
    )
