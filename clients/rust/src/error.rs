//! The crate's one error type. An RPC failure keeps everything the server
//! said: the gRPC code, the message and the `google.rpc` details
//! (`ErrorInfo` reason/domain/metadata and `BadRequest` field violations).

use std::collections::HashMap;

use tonic::Code;
use tonic_types::StatusExt;

use crate::event::RunError;

/// What went wrong in a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-OK gRPC status (boxed: errors stay small).
    #[error(transparent)]
    Rpc(Box<RpcError>),
    /// The connection to the server could not be set up.
    #[error("cannot connect to {target}: {}; check the address and that the server is running", chain(.source))]
    Connect {
        /// The target that was dialled.
        target: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// A value given to the client cannot be sent (it is refused before any call).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The run ended FAILED (only raised by helpers that return text, not results).
    #[error("run failed: {0}")]
    RunFailed(RunError),
    /// The server broke the protocol (e.g. an event stream ended without RunEnded).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The TLS options cannot be used (a file that cannot be read, an http:// target).
    #[error("tls: {0}")]
    Tls(String),
}

impl Error {
    /// The gRPC code of the failure. Errors raised in this client map to the code
    /// the server would have used: bad values -> INVALID_ARGUMENT, no connection
    /// -> UNAVAILABLE, protocol breaks -> INTERNAL, a failed run -> ABORTED.
    pub fn code(&self) -> Code {
        match self {
            Error::Rpc(e) => e.code,
            Error::Connect { .. } => Code::Unavailable,
            Error::InvalidValue(_) | Error::Tls(_) => Code::InvalidArgument,
            Error::RunFailed(_) => Code::Aborted,
            Error::Protocol(_) => Code::Internal,
        }
    }

    /// The RPC error, when the server answered with a non-OK status.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            Error::Rpc(e) => Some(e),
            _ => None,
        }
    }

    /// The `google.rpc.ErrorInfo.reason` of an RPC error (e.g. "GRAPH_NOT_FOUND").
    pub fn reason(&self) -> Option<&str> {
        self.rpc().and_then(|e| e.reason.as_deref())
    }

    /// The `google.rpc.BadRequest` field violations of an RPC error.
    pub fn field_violations(&self) -> &[FieldViolation] {
        self.rpc().map(|e| e.field_violations.as_slice()).unwrap_or(&[])
    }

    pub(crate) fn deadline(after: std::time::Duration) -> Error {
        Error::from(RpcError {
            code: Code::DeadlineExceeded,
            message: format!("deadline of {after:?} exceeded (client side)"),
            ..RpcError::default()
        })
    }
}

/// A non-OK gRPC status with its decoded `google.rpc` details.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}{}", code_name(*.code), reason_suffix(.reason))]
pub struct RpcError {
    /// The gRPC status code.
    pub code: Code,
    /// The status message (says what happened and how to fix it).
    pub message: String,
    /// `google.rpc.ErrorInfo.reason`, e.g. "GRAPH_NOT_FOUND", "INVALID_INPUT".
    pub reason: Option<String>,
    /// `google.rpc.ErrorInfo.domain` (the server uses "hypergraph.dev").
    pub domain: Option<String>,
    /// `google.rpc.ErrorInfo.metadata`.
    pub metadata: HashMap<String, String>,
    /// `google.rpc.BadRequest.field_violations`, e.g. field "values.b".
    pub field_violations: Vec<FieldViolation>,
}

impl Default for RpcError {
    fn default() -> Self {
        RpcError {
            code: Code::Unknown,
            message: String::new(),
            reason: None,
            domain: None,
            metadata: HashMap::new(),
            field_violations: Vec::new(),
        }
    }
}

/// One offending request field (`google.rpc.BadRequest.FieldViolation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path, e.g. "values.b".
    pub field: String,
    /// Why it is wrong.
    pub description: String,
}

/// The canonical name of a gRPC code, as in the gRPC spec: "NOT_FOUND", "INVALID_ARGUMENT"...
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its sources, "a: b: c" (tonic's transport error alone says little).
/// A source that only repeats the text before it (tonic's `ConnectError` shows its
/// inner error) is left out.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut last = text.clone();
    let mut next = e.source();
    while let Some(source) = next {
        let part = source.to_string();
        if part != last {
            text.push_str(": ");
            text.push_str(&part);
        }
        last = part;
        next = source.source();
    }
    text
}

/// The message of a call that failed because its connection broke, which is
/// UNAVAILABLE (as in the other clients); `None` for any other status (one the
/// server sent has no source at all). `first_call`: the call may be the first on
/// its connection, so a closed connection may be a refused client certificate.
///
/// tonic reports a broken connection as UNKNOWN "transport error" (the HTTP/2
/// stream saw the I/O error) or CANCELLED "operation was canceled" (hyper
/// dropped the request because the connection had closed), both before any
/// response headers; or, when the connection breaks while a stream's messages
/// are read (a Watch whose connection is reset), as UNKNOWN "error reading a
/// body from connection": hyper's body error over h2's `Error`.
///
/// The rule walks the public `source()` chain and downcasts to public types:
/// `std::io::Error` (its kind says how the connection ended), `h2::Error` (its
/// `get_io()`; a stream reset or GOAWAY it reports is left alone) and tonic's
/// `transport::Error`, `TimeoutExpired`, `ConnectError` and `Status`. The TLS
/// alert is read from the I/O error's text: h2 gives every stream of a failed
/// connection a new `io::Error` holding only the original error's text, so a
/// call's error never holds a `rustls::Error` to downcast to.
///
/// A mutual-TLS server that refuses the client's certificate after a TLS 1.3
/// handshake breaks the connection on the first call, before any response
/// headers: with a TLS alert (rustls: "received fatal alert: CertificateRequired"),
/// named as such, or by just closing it, as the Python server (grpc-core) does. A
/// closed connection gets that hint ([`connection_closed`]) only when it can be
/// the refusal: a `first_call` that failed before its response headers. Every
/// failure of tonic's `Channel` before the headers is its `transport::Error`; a
/// body read after them has none.
fn broken_connection(status: &tonic::Status, first_call: bool) -> Option<String> {
    use std::error::Error as _;

    // The cause as text, without tonic's "transport error", which says nothing.
    let mut first = status.source();
    while let Some(e) = first.filter(|e| e.is::<tonic::transport::Error>()) {
        first = e.source();
    }
    let cause = first.map(chain).unwrap_or_default();

    let mut transport = false;
    let mut connecting = false;
    let mut next = status.source();
    while let Some(e) = next {
        if e.is::<tonic::TimeoutExpired>() || e.is::<tonic::Status>() {
            return None; // a deadline, or a status some layer made on purpose
        }
        transport |= e.is::<tonic::transport::Error>();
        connecting |= e.is::<tonic::ConnectError>();
        let io = match e.downcast_ref::<h2::Error>() {
            // h2 keeps its I/O error out of `source()`. Its other errors (a stream reset
            // or GOAWAY the server sent, a protocol error) are not a broken connection.
            Some(h2) => Some(h2.get_io()?),
            None => e.downcast_ref::<std::io::Error>(),
        };
        if let Some(io) = io {
            // A connection that failed while being made is UNAVAILABLE already,
            // with tonic's message naming the cause.
            if connecting && tls_alert(io).is_none() {
                return None;
            }
            return Some(io_failure(io, &cause, first_call && transport));
        }
        next = e.source();
    }
    // tonic makes CANCELLED out of a transport error only for a deadline (left
    // alone above) and for hyper's "operation was canceled": the connection had
    // closed before the request could be sent.
    (transport && status.code() == Code::Cancelled).then(|| connection_closed(&cause, first_call))
}

/// The message of a call whose connection failed with `io`; `cause`: the error chain
/// as text. `refusal`: a close may be a mutual-TLS server refusing the client's
/// certificate (a first call, before any response headers).
fn io_failure(io: &std::io::Error, cause: &str, refusal: bool) -> String {
    use std::io::ErrorKind;
    match tls_alert(io) {
        Some(alert) if is_certificate_alert(&alert) => format!(
            "the server refused this client's TLS certificate (received fatal alert: {alert}); \
             check the client certificate given to TlsOptions::client_certificate"
        ),
        Some(alert) => format!(
            "the server ended the TLS connection (received fatal alert: {alert}); \
             check the TlsOptions against the server's TLS settings"
        ),
        None if matches!(
            io.kind(),
            ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
        ) =>
        {
            connection_closed(cause, refusal)
        }
        None => format!("the connection to the server failed ({cause})"),
    }
}

/// A closed connection; `refusal` adds how a mutual-TLS server refuses a certificate.
fn connection_closed(cause: &str, refusal: bool) -> String {
    if !refusal {
        return format!("the connection to the server closed ({cause})");
    }
    format!(
        "the connection to the server closed before the call was answered ({cause}); on a first \
         call this is how a mutual-TLS server refuses this client's TLS certificate: check the \
         client certificate given to TlsOptions::client_certificate, else that the server is running"
    )
}

/// The TLS alert the server sent, e.g. "CertificateRequired", from rustls's text
/// "received fatal alert: CertificateRequired".
fn tls_alert(io: &std::io::Error) -> Option<String> {
    let text = io.get_ref()?.to_string();
    text.split_once("received fatal alert: ").map(|(_, alert)| alert.trim().to_string())
}

/// Alerts by which a server refuses the client's certificate (rustls's names).
fn is_certificate_alert(alert: &str) -> bool {
    matches!(
        alert,
        "CertificateRequired"
            | "BadCertificate"
            | "UnsupportedCertificate"
            | "CertificateRevoked"
            | "CertificateExpired"
            | "CertificateUnknown"
            | "UnknownCA"
            | "AccessDenied"
    )
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!(" [{r}]")).unwrap_or_default()
}

impl RpcError {
    /// `first_call`: see [`broken_connection`].
    fn from_status(status: tonic::Status, first_call: bool) -> Self {
        let (code, message) = match broken_connection(&status, first_call) {
            Some(message) => (Code::Unavailable, message),
            None => (status.code(), status.message().to_string()),
        };
        let details = status.get_error_details();
        let info = details.error_info();
        RpcError {
            code,
            message,
            reason: info.map(|i| i.reason.clone()),
            domain: info.map(|i| i.domain.clone()),
            metadata: info.map(|i| i.metadata.clone()).unwrap_or_default(),
            field_violations: details
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| FieldViolation { field: v.field.clone(), description: v.description.clone() })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl From<tonic::Status> for RpcError {
    fn from(status: tonic::Status) -> Self {
        RpcError::from_status(status, true)
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Error::Rpc(Box::new(e))
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::from(RpcError::from(status))
    }
}

impl Error {
    /// The error of a call that re-attaches a Watch: its channel has already carried
    /// this client's calls with the same TLS settings, so a closed connection is not a
    /// refused client certificate and gets no such hint.
    pub(crate) fn from_resumed_call(status: tonic::Status) -> Error {
        Error::from(RpcError::from_status(status, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn details_are_decoded() {
        let mut details = ErrorDetails::with_error_info("INVALID_INPUT", "hypergraph.dev", HashMap::new());
        details.add_bad_request_violation("values.b", "missing required input 'b'");
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "bad input", details);
        let err = Error::from(status);
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(err.reason(), Some("INVALID_INPUT"));
        assert_eq!(err.field_violations()[0].field, "values.b");
        assert_eq!(err.rpc().unwrap().domain.as_deref(), Some("hypergraph.dev"));
        assert!(err.to_string().contains("INVALID_INPUT"), "{err}");
        assert!(err.to_string().starts_with("INVALID_ARGUMENT: bad input"), "{err}");
    }

    /// A status as tonic makes it from a broken connection: UNKNOWN, the I/O error as its
    /// source (h2 hands each stream an `io::Error` holding only the original error's
    /// text, e.g. rustls's alert). Without tonic's transport error, which only a real
    /// call makes (see `watch_error`).
    fn broken(kind: std::io::ErrorKind, text: &str) -> Error {
        Error::from(tonic::Status::from_error(Box::new(std::io::Error::new(kind, text.to_string()))))
    }

    #[test]
    fn a_refused_client_certificate_is_unavailable_and_says_so() {
        let err = broken(std::io::ErrorKind::InvalidData, "received fatal alert: CertificateRequired");
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let message = &err.rpc().unwrap().message;
        assert!(message.starts_with("the server refused this client's TLS certificate"), "{message}");
        assert!(message.contains("(received fatal alert: CertificateRequired)"), "{message}");
        assert!(message.contains("TlsOptions::client_certificate"), "{message}");
        let err = broken(std::io::ErrorKind::InvalidData, "received fatal alert: UnknownCA");
        assert!(err.to_string().starts_with("UNAVAILABLE: the server refused this client's TLS certificate"), "{err}");
    }

    #[test]
    fn another_tls_alert_is_unavailable_with_the_alert() {
        let err = broken(std::io::ErrorKind::InvalidData, "received fatal alert: HandshakeFailure");
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert!(err.to_string().contains("ended the TLS connection (received fatal alert: HandshakeFailure)"), "{err}");
    }

    #[test]
    fn a_closed_connection_is_unavailable_with_its_cause() {
        let eof = "peer closed connection without sending TLS close_notify";
        let err = broken(std::io::ErrorKind::UnexpectedEof, eof);
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        // Not a failure before the response headers (no tonic transport error): no hint.
        assert_eq!(err.rpc().unwrap().message, format!("the connection to the server closed ({eof})"));
        let err = broken(std::io::ErrorKind::TimedOut, "read timed out");
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert!(err.to_string().contains("the connection to the server failed (read timed out)"), "{err}");
    }

    /// How a loopback HTTP/2 server (h2) ends the one call it gets.
    #[derive(Clone, Copy)]
    enum End {
        /// Closes the connection (FIN) without answering, as a mutual-TLS server
        /// refusing the client's certificate does.
        CloseUnanswered,
        /// Answers the response headers, then resets the connection (RST), as a
        /// lost network does mid-stream.
        CutAfterHeaders,
        /// Answers the response headers, then resets the stream (RST_STREAM).
        ResetStreamAfterHeaders(::h2::Reason),
    }

    /// The error of a real Watch call (tonic's channel, hyper, h2) to a server that
    /// speaks HTTP/2 with h2 on a loopback port and ends the call as `end` says.
    /// `resumed`: the call re-attaches a Watch (the crate's conversion for it).
    async fn watch_error(end: End, resumed: bool) -> Error {
        use tokio::sync::oneshot;
        use tonic::codegen::http;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (headers_read, mut read) = oneshot::channel::<()>();
        let (done, mut client_done) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            if let End::CutAfterHeaders = end {
                tcp.set_zero_linger().unwrap(); // dropping it sends RST
            }
            let mut conn = ::h2::server::handshake(tcp).await.unwrap();
            let (_request, mut respond) = conn.accept().await.unwrap().unwrap();
            if let End::CloseUnanswered = end {
                return; // drops the connection
            }
            let headers = http::Response::builder().header("content-type", "application/grpc").body(()).unwrap();
            let mut body = respond.send_response(headers, false).unwrap();
            // Serving the connection flushes what was sent.
            let mut serve = std::pin::pin!(async move { while conn.accept().await.is_some() {} });
            tokio::select! { _ = &mut serve => return, _ = &mut read => {} }
            if let End::ResetStreamAfterHeaders(reason) = end {
                body.send_reset(reason);
                tokio::select! { _ = &mut serve => {}, _ = &mut client_done => {} }
            }
        });
        let client = crate::Client::connect(addr.to_string()).await.unwrap();
        let message = crate::pb::WatchRequest { workflow_id: "wf".into(), after_seq: 0, options: None };
        let status = match client.raw().watch(message).await {
            Err(status) => status,
            Ok(reply) => {
                let _ = headers_read.send(());
                match reply.into_inner().message().await {
                    Err(status) => status,
                    Ok(message) => panic!("expected the read to fail, got {message:?}"),
                }
            }
        };
        let _ = done.send(());
        server.await.unwrap();
        if resumed {
            Error::from_resumed_call(status)
        } else {
            Error::from(status)
        }
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_response_headers_may_be_a_refused_certificate() {
        let err = watch_error(End::CloseUnanswered, false).await;
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let message = &err.rpc().unwrap().message;
        assert!(message.starts_with("the connection to the server closed before the call was answered ("), "{message}");
        assert!(message.contains("mutual-TLS server refuses this client's TLS certificate"), "{message}");
        assert!(message.contains("TlsOptions::client_certificate"), "{message}");
        // A call re-attaching a Watch has had its TLS settings accepted before: no hint.
        let err = watch_error(End::CloseUnanswered, true).await;
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let message = &err.rpc().unwrap().message;
        assert!(message.starts_with("the connection to the server closed ("), "{message}");
        assert!(!message.contains("TLS"), "{message}");
    }

    #[tokio::test]
    async fn a_connection_reset_while_reading_a_stream_is_unavailable_without_the_tls_hint() {
        // hyper's body error over h2's error, whose I/O error is out of the source chain.
        let err = watch_error(End::CutAfterHeaders, false).await;
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let message = &err.rpc().unwrap().message;
        assert!(
            message.starts_with("the connection to the server closed (error reading a body from connection: "),
            "{message}"
        );
        assert!(!message.contains("TLS"), "{message}");
    }

    #[tokio::test]
    async fn a_stream_reset_the_server_sent_is_not_a_broken_connection() {
        for reason in [::h2::Reason::CANCEL, ::h2::Reason::INTERNAL_ERROR] {
            let err = watch_error(End::ResetStreamAfterHeaders(reason), false).await;
            assert_eq!(err.code(), Code::Unknown, "{err:?}");
            assert_eq!(err.rpc().unwrap().message, "error reading a body from connection");
        }
    }

    #[test]
    fn statuses_not_from_a_broken_connection_are_kept() {
        // The server's own status has no source, whatever its text.
        let err = Error::from(tonic::Status::unknown("transport error"));
        assert_eq!((err.code(), err.rpc().unwrap().message.as_str()), (Code::Unknown, "transport error"));
        // tonic's own deadline stays CANCELLED here (Client maps it to DEADLINE_EXCEEDED).
        let err = Error::from(tonic::Status::from_error(Box::new(tonic::TimeoutExpired(()))));
        assert_eq!(err.code(), Code::Cancelled, "{err:?}");
        let err = Error::from(tonic::Status::cancelled("operation was canceled"));
        assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    }

    #[test]
    fn chain_leaves_out_a_repeated_source() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Wrapper(std::io::Error::other("received fatal alert: HandshakeFailure"));
        assert_eq!(chain(&e), "received fatal alert: HandshakeFailure");
    }

    #[test]
    fn status_without_details_has_none() {
        let err = Error::from(tonic::Status::not_found("no graph"));
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(err.reason(), None);
        assert!(err.field_violations().is_empty());
    }
}
