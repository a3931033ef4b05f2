//! `Client`: the idiomatic wrapper over the generated RunnerService stub.

use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::error::Error;
use crate::event::{GraphInfo, RunResult, RunSummary, StopOutcome};
use crate::options::CallOptions;
use crate::pb;
use crate::pb::runner_service_client::RunnerServiceClient;
use crate::stream::{EventStream, Reopening, TextStream};
use crate::tls::TlsOptions;
use crate::value::{to_proto_struct, IntoValues};

/// A connection to a hypergraph-grpc server. Cheap to clone; clones share the
/// HTTP/2 connection and may be used from many tasks at once.
#[derive(Debug, Clone)]
pub struct Client {
    rpc: RunnerServiceClient<Channel>,
    timeout: Option<Duration>,
}

impl Client {
    /// Connects to `target`: "host:port" (plain HTTP/2) or a full "http://host:port" URI
    /// ("https://" connects over TLS trusting the system's roots).
    pub async fn connect(target: impl AsRef<str>) -> Result<Client, Error> {
        let target = target.as_ref();
        let uri = if target.contains("://") { target.to_string() } else { format!("http://{target}") };
        let connect_error = |source| Error::Connect { target: target.to_string(), source };
        let channel = Endpoint::from_shared(uri).map_err(connect_error)?.connect().await.map_err(connect_error)?;
        Ok(Client::from_channel(channel))
    }

    /// Connects to `target` ("host:port" or "https://host:port") over TLS as `tls` says:
    /// a CA file or the system's roots, and a client certificate for mutual TLS.
    pub async fn connect_tls(target: impl AsRef<str>, tls: &TlsOptions) -> Result<Client, Error> {
        let target = target.as_ref();
        let uri = match target.split_once("://") {
            None => format!("https://{target}"),
            Some(("https", _)) => target.to_string(),
            // tonic speaks plaintext to any other scheme, whatever its TLS config says.
            Some(_) => return Err(Error::Tls(format!("TLS needs an https:// target, got {target:?}"))),
        };
        let connect_error = |source| Error::Connect { target: target.to_string(), source };
        let endpoint = Endpoint::from_shared(uri).map_err(connect_error)?;
        let endpoint = endpoint.tls_config(tls.client_config()?).map_err(connect_error)?;
        Ok(Client::from_channel(endpoint.connect().await.map_err(connect_error)?))
    }

    /// Wraps an existing tonic channel (TLS, load balancing, interceptors are set up there).
    pub fn from_channel(channel: Channel) -> Client {
        // The server's own limit is what matters; do not refuse big results here.
        let rpc = RunnerServiceClient::new(channel).max_decoding_message_size(usize::MAX);
        Client { rpc, timeout: None }
    }

    /// Sets the deadline applied to calls whose options give none.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = Some(timeout);
        self
    }

    /// The generated stub, for anything the wrapper does not cover.
    pub fn raw(&self) -> RunnerServiceClient<Channel> {
        self.rpc.clone()
    }

    /// Lists the registered graphs, sorted by name.
    pub async fn list_graphs(&self) -> Result<Vec<GraphInfo>, Error> {
        let request = self.request(pb::ListGraphsRequest {}, None);
        let mut rpc = self.rpc.clone();
        let reply = unary(self.timeout, rpc.list_graphs(request)).await?;
        Ok(reply.graphs.into_iter().map(GraphInfo::from).collect())
    }

    /// The live runs of the deployment (every replica of a cluster), oldest first, of
    /// `graph` (None: every graph). Follows every page.
    pub async fn list_runs(&self, graph: Option<&str>) -> Result<Vec<RunSummary>, Error> {
        let mut runs = Vec::new();
        let mut page_token = String::new();
        loop {
            let message =
                pb::ListRunsRequest { graph: graph.unwrap_or_default().to_string(), page_size: 0, page_token };
            let request = self.request(message, None);
            let mut rpc = self.rpc.clone();
            let reply = unary(self.timeout, rpc.list_runs(request)).await?;
            runs.extend(reply.runs.into_iter().map(RunSummary::from));
            if reply.next_page_token.is_empty() {
                return Ok(runs);
            }
            page_token = reply.next_page_token;
        }
    }

    /// Runs `graph` with `values` and waits for its result. A node that raises is
    /// not an error: the result has status `Failed` and says why.
    pub async fn run(&self, graph: &str, values: impl IntoValues) -> Result<RunResult, Error> {
        self.run_with(graph, values, CallOptions::default()).await
    }

    /// `run` with options (workflow id, select, timeout...).
    pub async fn run_with(&self, graph: &str, values: impl IntoValues, opts: CallOptions) -> Result<RunResult, Error> {
        let message = pb::RunRequest {
            graph: graph.to_string(),
            values: Some(request_values(values)?),
            workflow_id: opts.workflow_id.clone().unwrap_or_default(),
            select: opts.select.clone(),
            max_iterations: opts.max_iterations,
        };
        let timeout = opts.timeout.or(self.timeout);
        let request = self.request(message, timeout);
        let mut rpc = self.rpc.clone();
        let reply = unary(timeout, rpc.run(request)).await?;
        let result = reply.result.ok_or_else(|| Error::Protocol("RunResponse without a result".into()))?;
        Ok(RunResult::from(&result))
    }

    /// Starts `graph` and streams its typed events, ending after RunEnded.
    /// Dropping the stream cancels the call, which stops the run on the server
    /// (unless `opts.detach`).
    pub async fn iter(&self, graph: &str, values: impl IntoValues, opts: CallOptions) -> Result<EventStream, Error> {
        let message = pb::IterRequest {
            graph: graph.to_string(),
            values: Some(request_values(values)?),
            workflow_id: opts.workflow_id.clone().unwrap_or_default(),
            select: opts.select.clone(),
            max_iterations: opts.max_iterations,
            options: Some(stream_options(&opts)),
            capability: None,
        };
        let timeout = opts.timeout.or(self.timeout);
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let request = self.request(message, timeout);
        let mut rpc = self.rpc.clone();
        let streaming = unary(timeout, rpc.iter(request)).await?;
        Ok(EventStream::new(streaming, deadline))
    }

    /// Starts `graph` and streams only its text chunks; see [`TextStream`]. It asks
    /// for the text view ([`CallOptions::text_view`]), which costs the server less.
    pub async fn stream_text(
        &self,
        graph: &str,
        values: impl IntoValues,
        opts: CallOptions,
    ) -> Result<TextStream, Error> {
        Ok(TextStream::new(self.iter(graph, values, opts.text_view(true)).await?))
    }

    /// Attaches to a workflow by id and streams its events after `after_seq`
    /// (0: from the first), then follows the run until RunEnded. An `EventsLost`
    /// event first names the seqs the server no longer keeps; an unknown id is
    /// NOT_FOUND. Watching never owns the run: dropping the stream never stops it.
    /// It returns once the server accepts the Watch (the server answers its response
    /// headers then, before any event); a refusal (NOT_FOUND, a lost connection
    /// before that) is this call's error.
    ///
    /// With [`CallOptions::resume`] (the default), a lost connection (UNAVAILABLE)
    /// before RunEnded does not end the stream: it waits 0.1 s (doubling each time,
    /// at most 2 s), calls Watch again on the same channel with `after_seq` = the
    /// seq of the last event yielded (this call's `after_seq` if none yet) and goes
    /// on, so no event is lost or repeated.
    /// After 6 failed tries in a row (an event yielded starts the count again) it
    /// yields the last error. A timeout is the deadline of the whole stream,
    /// resumes included.
    pub async fn watch(&self, workflow_id: &str, after_seq: u64, opts: CallOptions) -> Result<EventStream, Error> {
        let message =
            pb::WatchRequest { workflow_id: workflow_id.to_string(), after_seq, options: Some(stream_options(&opts)) };
        let timeout = opts.timeout.or(self.timeout);
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let request = self.request(message.clone(), timeout);
        let mut rpc = self.rpc.clone();
        let streaming = unary(timeout, rpc.watch(request)).await?;
        let events = EventStream::new(streaming, deadline);
        if !opts.resume {
            return Ok(events);
        }
        let rpc = self.rpc.clone();
        let reopen = move |after_seq: u64, left: Option<Duration>| -> Reopening {
            let mut request = tonic::Request::new(pb::WatchRequest { after_seq, ..message.clone() });
            if let Some(left) = left {
                request.set_timeout(left);
            }
            let mut rpc = rpc.clone();
            Box::pin(async move {
                match rpc.watch(request).await {
                    Ok(reply) => Ok(reply.into_inner()),
                    // The stream's own deadline (a timer in EventStream) names the whole timeout.
                    Err(status) if is_local_timeout(&status) => Err(Error::deadline(timeout.unwrap_or_default())),
                    Err(status) => Err(Error::from_resumed_call(status)),
                }
            })
        };
        Ok(events.resuming(Box::new(reopen), after_seq))
    }

    /// Asks a live workflow to stop; the outcome says whether a live run was
    /// reached (`found`), which run (`run_id`) and its state after the request.
    /// `info` (an object, or null) becomes the run's stop_info; after `grace`,
    /// nodes still running are cancelled. Idempotent.
    pub async fn stop(&self, workflow_id: &str, info: Value, grace: Option<Duration>) -> Result<StopOutcome, Error> {
        let info = match info {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => return Err(Error::InvalidValue(format!("stop info must be a JSON object or null, got {other}"))),
        };
        let message = pb::StopRequest {
            workflow_id: workflow_id.to_string(),
            info: Some(to_proto_struct(&info, "info")?),
            grace: grace.map(|g| prost_types::Duration { seconds: g.as_secs() as i64, nanos: g.subsec_nanos() as i32 }),
        };
        let request = self.request(message, self.timeout);
        let mut rpc = self.rpc.clone();
        let reply = unary(self.timeout, rpc.stop(request)).await?;
        Ok(StopOutcome::from(reply))
    }

    fn request<T>(&self, message: T, timeout: Option<Duration>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(t) = timeout {
            // Sent as grpc-timeout so the server stops the run at the deadline too.
            request.set_timeout(t);
        }
        request
    }
}

fn stream_options(opts: &CallOptions) -> pb::StreamOptions {
    pb::StreamOptions {
        detach: opts.detach,
        disable_merge: opts.disable_merge,
        max_queued_events: opts.max_queued_events,
        max_chunk_bytes: opts.max_chunk_bytes,
        view: if opts.text_view { pb::EventView::Text } else { pb::EventView::Unspecified } as i32,
    }
}

fn request_values(values: impl IntoValues) -> Result<prost_types::Struct, Error> {
    to_proto_struct(&values.into_value_map()?, "values")
}

/// Awaits a call, enforcing `timeout` on this side as well (the server's
/// answer may be slower than the deadline itself).
async fn unary<T>(
    timeout: Option<Duration>,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, Error> {
    let Some(t) = timeout else {
        return Ok(call.await?.into_inner());
    };
    match tokio::time::timeout(t, call).await {
        Err(_elapsed) => Err(Error::deadline(t)),
        Ok(Err(status)) if is_local_timeout(&status) => Err(Error::deadline(t)),
        Ok(reply) => Ok(reply?.into_inner()),
    }
}

/// tonic's channel enforces grpc-timeout itself but reports it as CANCELLED
/// "Timeout expired"; the gRPC spec (and every other client) says DEADLINE_EXCEEDED.
fn is_local_timeout(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Cancelled && status.message() == tonic::TimeoutExpired(()).to_string()
}
