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
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        text.push_str(": ");
        text.push_str(&source.to_string());
        next = source.source();
    }
    text
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!(" [{r}]")).unwrap_or_default()
}

impl From<tonic::Status> for RpcError {
    fn from(status: tonic::Status) -> Self {
        let details = status.get_error_details();
        let info = details.error_info();
        RpcError {
            code: status.code(),
            message: status.message().to_string(),
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

    #[test]
    fn status_without_details_has_none() {
        let err = Error::from(tonic::Status::not_found("no graph"));
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(err.reason(), None);
        assert!(err.field_violations().is_empty());
    }
}
