//! Per-call options of `run`, `iter`, `stream_text` and `watch`.

use std::time::Duration;

/// Options of one call. `Default` gives: server-made workflow id, every output,
/// the server's iteration limit, the client's default timeout, a stream
/// that stops its run when dropped, and a `watch` that resumes by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOptions {
    /// The workflow id (1-128 of `[A-Za-z0-9._:-]`); None lets the server make one.
    pub workflow_id: Option<String>,
    /// Output names to return; empty returns every output.
    pub select: Vec<String>,
    /// The most times any one node may run; 0 means the server default.
    pub max_iterations: u32,
    /// The call deadline (the whole stream for `iter`); None uses the client default.
    pub timeout: Option<Duration>,
    /// `iter` only: keep the run going when the stream ends early (drop, deadline).
    pub detach: bool,
    /// `iter` only: one message per `ctx.stream()` call, never merged.
    pub disable_merge: bool,
    /// `iter` only: events queued for this stream before text chunks merge; 0 = server default.
    pub max_queued_events: u32,
    /// `iter` only: the most bytes of text in one merged chunk; 0 = server default.
    pub max_chunk_bytes: u32,
    /// `iter` only: the text view (`EVENT_VIEW_TEXT`): RunStarted, chunks, node
    /// failures, stops and RunEnded, without the node lifecycle; seq then skips the
    /// events left out. `stream_text` asks for it by itself. Watch refuses it.
    pub text_view: bool,
    /// `watch` only (default true): when the connection is lost (UNAVAILABLE) before
    /// RunEnded, also before the first event, call Watch again after the last seq
    /// yielded (else the call's `after_seq`) and go on with the same stream, waiting
    /// 0.1 s, then twice as long each time (at most 2 s), and giving up after 6
    /// failed tries in a row. False yields the UNAVAILABLE error instead.
    pub resume: bool,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            workflow_id: None,
            select: Vec::new(),
            max_iterations: 0,
            timeout: None,
            detach: false,
            disable_merge: false,
            max_queued_events: 0,
            max_chunk_bytes: 0,
            text_view: false,
            resume: true,
        }
    }
}

impl CallOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the workflow id (needed to Stop the run from elsewhere before its first event).
    pub fn workflow_id(mut self, id: impl Into<String>) -> Self {
        self.workflow_id = Some(id.into());
        self
    }

    /// Returns only these outputs.
    pub fn select<I, S>(mut self, outputs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select = outputs.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the per-node iteration limit.
    pub fn max_iterations(mut self, n: u32) -> Self {
        self.max_iterations = n;
        self
    }

    /// Sets the call deadline.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Keeps the run going when the stream ends early.
    pub fn detach(mut self, yes: bool) -> Self {
        self.detach = yes;
        self
    }

    /// Asks for one message per `ctx.stream()` call.
    pub fn disable_merge(mut self, yes: bool) -> Self {
        self.disable_merge = yes;
        self
    }

    /// Asks for the text view (no node lifecycle events; cheaper for the server).
    pub fn text_view(mut self, yes: bool) -> Self {
        self.text_view = yes;
        self
    }

    /// `watch` only: resume by itself after a lost connection (the default), or not.
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }
}
