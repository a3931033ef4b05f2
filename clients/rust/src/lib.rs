//! Rust client of hypergraph-grpc: run, stream and stop hypergraph workflows
//! served by `hypergraph-grpc serve`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hypergraph_client::Error> {
//! use hypergraph_client::{CallOptions, Client};
//! use serde_json::json;
//!
//! let client = Client::connect("127.0.0.1:50051").await?;
//! let result = client.run("add", json!({"a": 2, "b": 40})).await?;
//! assert_eq!(result.values["sum"], json!(42));
//! let mut tokens = client.stream_text("chat", json!({"prompt": "hi"}), CallOptions::new()).await?;
//! while let Some(token) = tokens.next().await {
//!     print!("{}", token?);
//! }
//! # Ok(()) }
//! ```

pub mod client;
pub mod error;
pub mod event;
pub mod options;
pub mod stream;
pub mod tls;
pub mod value;

/// The generated `hypergraph.v1` messages and the RunnerService stub.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("hypergraph.v1");
}

pub use client::Client;
pub use error::{code_name, Error, FieldViolation, RpcError};
pub use event::{
    Chunk, Event, EventKind, GraphInfo, InputInfo, OutputInfo, RunError, RunResult, RunState, RunStatus, RunSummary,
    StopOutcome,
};
pub use options::CallOptions;
pub use stream::{EventStream, TextStream};
pub use tls::TlsOptions;
pub use tonic::Code;
pub use value::IntoValues;
