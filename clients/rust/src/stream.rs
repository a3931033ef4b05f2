//! The event and text streams returned by `Client::iter` / `Client::stream_text`
//! / `Client::watch`.
//!
//! Dropping a stream before RunEnded cancels the RPC (HTTP/2 RST_STREAM), and
//! the server then stops the run with `{"kind": "client_cancelled"}` unless the
//! call asked to detach.
//!
//! A Watch stream resumes by itself (unless `CallOptions::resume(false)`): when
//! its connection is lost (UNAVAILABLE) before RunEnded, it waits, calls Watch
//! again with `after_seq` = the seq of the last event it yielded (before the
//! first: the call's own `after_seq`), and goes on with the new call's events,
//! so none is lost or repeated.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use futures_core::Stream;
use tokio::time::Sleep;

use crate::error::Error;
use crate::event::{Event, EventKind, RunResult, RunStatus};
use crate::pb;

/// Tries in a row a Watch makes to re-attach after a lost connection before it gives up.
const RESUME_ATTEMPTS: u32 = 6;
/// The wait before the first try; it doubles with each failed try, up to `RESUME_MAX_WAIT`.
const RESUME_FIRST_WAIT: Duration = Duration::from_millis(100);
const RESUME_MAX_WAIT: Duration = Duration::from_secs(2);

/// A Watch call being made again: its stream, or the error that ended the try.
pub(crate) type Reopening = Pin<Box<dyn Future<Output = Result<tonic::Streaming<pb::Event>, Error>> + Send>>;

/// Makes the Watch call again: `(after_seq, the time left of the stream's deadline)`.
pub(crate) type Reopen = Box<dyn Fn(u64, Option<Duration>) -> Reopening + Send>;

/// A stream of a run's typed events, ending after RunEnded.
///
/// Yields `Err` once and ends if the call fails (status, deadline) or the server
/// closes the stream without RunEnded. A `watch` stream first resumes by itself
/// when its connection is lost (see [`CallOptions::resume`](crate::CallOptions::resume)).
pub struct EventStream {
    inner: Option<tonic::Streaming<pb::Event>>,
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    /// RunEnded was yielded: what is left is the trailers, read so the stream
    /// ends cleanly instead of being reset.
    ended: bool,
    /// A Watch that resumes by itself after a lost connection.
    resume: Option<Resume>,
}

/// How a Watch stream re-attaches after a lost connection, and where it is.
struct Resume {
    reopen: Reopen,
    /// The seq of the last event yielded (before the first: the call's `after_seq`).
    last_seq: u64,
    /// Failed tries in a row; an event yielded sets it back to 0.
    failures: u32,
    /// Between the lost connection and the new call's stream: the wait, then the call.
    pending: Option<Pending>,
}

enum Pending {
    Wait(Pin<Box<Sleep>>),
    Open(Reopening),
}

/// The wait before re-attaching after `failures` failed tries in a row, or None
/// to give up: 0.1 s, doubling each time, at most 2 s, for 6 tries.
fn resume_wait(failures: u32) -> Option<Duration> {
    (failures < RESUME_ATTEMPTS).then(|| RESUME_FIRST_WAIT.saturating_mul(1 << failures).min(RESUME_MAX_WAIT))
}

impl EventStream {
    /// `deadline`: when the call's deadline passes, and the timeout it came from.
    pub(crate) fn new(inner: tonic::Streaming<pb::Event>, deadline: Option<(Instant, Duration)>) -> Self {
        let deadline = deadline.map(|(at, d)| (Box::pin(tokio::time::sleep_until(at)), d));
        EventStream { inner: Some(inner), deadline, ended: false, resume: None }
    }

    /// Makes this (Watch) stream resume by itself after a lost connection: `reopen`
    /// calls Watch again; `after_seq` is the seq the first call started after.
    pub(crate) fn resuming(mut self, reopen: Reopen, after_seq: u64) -> Self {
        self.resume = Some(Resume { reopen, last_seq: after_seq, failures: 0, pending: None });
        self
    }

    /// The next event, or None after RunEnded (no `StreamExt` needed).
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        next(self).await
    }

    /// Reads the remaining events and returns the run's result.
    pub async fn into_result(mut self) -> Result<RunResult, Error> {
        while let Some(event) = next(&mut self).await {
            if let EventKind::RunEnded { result, .. } = event?.kind {
                next(&mut self).await; // the trailers
                return Ok(result);
            }
        }
        Err(Error::Protocol("the event stream had already ended".into()))
    }

    /// Ends the stream; before the server's end this cancels the call (and drops
    /// a resume under way: its wait, or the call being made again).
    fn finish(&mut self) {
        self.inner = None;
        self.deadline = None;
        self.resume = None;
    }

    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> Option<Duration> {
        let (sleep, after) = self.deadline.as_mut()?;
        sleep.as_mut().poll(cx).is_ready().then_some(*after)
    }

    /// After RunEnded: read up to the end of the stream, then end.
    fn poll_trailers(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        while let Some(inner) = self.inner.as_mut() {
            match Pin::new(inner).poll_next(cx) {
                Poll::Ready(Some(Ok(_))) => continue, // nothing follows RunEnded; ignore it
                Poll::Ready(_) => self.finish(),
                Poll::Pending if self.deadline_passed(cx).is_some() => self.finish(),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(None)
    }

    /// The next message of the call, re-attaching first when a resume is under way;
    /// `Ready(None)` once the stream has been finished.
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<pb::Event, Error>>> {
        if let Some(resume) = self.resume.as_mut() {
            while let Some(pending) = resume.pending.as_mut() {
                match pending {
                    Pending::Wait(sleep) => {
                        ready!(sleep.as_mut().poll(cx));
                        let left = self.deadline.as_ref().map(|(at, _)| at.deadline() - Instant::now());
                        if left == Some(Duration::ZERO) {
                            return Poll::Pending; // the deadline, polled next, ends the stream
                        }
                        resume.pending = Some(Pending::Open((resume.reopen)(resume.last_seq, left)));
                    }
                    Pending::Open(call) => {
                        let opened = ready!(call.as_mut().poll(cx));
                        resume.pending = None;
                        match opened {
                            Ok(stream) => self.inner = Some(stream),
                            Err(e) => return Poll::Ready(Some(Err(e))),
                        }
                    }
                }
            }
        }
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        Poll::Ready(Some(match ready!(Pin::new(inner).poll_next(cx)) {
            Some(Ok(message)) => Ok(message),
            Some(Err(status)) => Err(status.into()),
            None => Err(Error::Protocol("the server closed the event stream before RunEnded".into())),
        }))
    }

    /// After `err`, a resuming Watch waits and calls again (true); false: `err` ends the stream.
    /// Only a lost connection (UNAVAILABLE) before RunEnded resumes, for 6 tries in a row.
    fn resume_after(&mut self, err: &Error) -> bool {
        let Some(resume) = self.resume.as_mut() else {
            return false;
        };
        if self.ended || err.code() != tonic::Code::Unavailable {
            return false;
        }
        let Some(wait) = resume_wait(resume.failures) else {
            return false;
        };
        resume.failures += 1;
        self.inner = None; // the broken call, if any
        resume.pending = Some(Pending::Wait(Box::pin(tokio::time::sleep(wait))));
        true
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return this.poll_trailers(cx);
        }
        loop {
            let item = match this.poll_message(cx) {
                Poll::Ready(Some(Ok(pe))) => {
                    let event = Event::from(pe);
                    this.ended = matches!(event.kind, EventKind::RunEnded { .. });
                    if let Some(resume) = this.resume.as_mut() {
                        resume.last_seq = event.seq;
                        resume.failures = 0;
                    }
                    Ok(event)
                }
                Poll::Ready(Some(Err(err))) => {
                    if this.resume_after(&err) {
                        continue;
                    }
                    this.finish();
                    Err(err)
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => match this.deadline_passed(cx) {
                    Some(after) => {
                        this.finish();
                        Err(Error::deadline(after))
                    }
                    None => return Poll::Pending,
                },
            };
            return Poll::Ready(Some(item));
        }
    }
}

/// A stream of the text chunks of a run, ending after RunEnded.
///
/// A run that ends FAILED yields `Err(Error::RunFailed)` last; a STOPPED run
/// just ends. The final result is kept: see [`TextStream::result`].
pub struct TextStream {
    events: EventStream,
    result: Option<RunResult>,
}

impl TextStream {
    pub(crate) fn new(events: EventStream) -> Self {
        TextStream { events, result: None }
    }

    /// The next text chunk, or None once the run has ended.
    pub async fn next(&mut self) -> Option<Result<String, Error>> {
        next(self).await
    }

    /// The run's result, once the stream has ended with RunEnded.
    pub fn result(&self) -> Option<&RunResult> {
        self.result.as_ref()
    }
}

impl Stream for TextStream {
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let event = match Pin::new(&mut this.events).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => event,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            match event.kind {
                EventKind::StreamingChunk { chunk: crate::event::Chunk::Text(text), .. } => {
                    return Poll::Ready(Some(Ok(text)));
                }
                EventKind::RunEnded { result, .. } => {
                    let failed = (result.status == RunStatus::Failed).then(|| result.error.clone().unwrap_or_default());
                    this.result = Some(result);
                    if let Some(e) = failed {
                        return Poll::Ready(Some(Err(Error::RunFailed(e))));
                    }
                    // Completed or stopped: the next poll reads the trailers and ends.
                }
                _ => continue,
            }
        }
    }
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::error::RpcError;

    fn status(code: tonic::Code, message: String) -> Error {
        Error::from(RpcError { code, message, ..RpcError::default() })
    }

    /// A Watch stream whose connection was just lost: its next poll starts resuming.
    /// `reopen` answers each new call; `calls` records the after_seq of each.
    fn after_a_lost_connection(
        after_seq: u64,
        reopen: impl Fn(u32) -> Error + Send + 'static,
    ) -> (EventStream, Arc<Mutex<Vec<u64>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let tries = AtomicU32::new(0);
        let reopen: Reopen = Box::new(move |seq, _left| {
            seen.lock().unwrap().push(seq);
            let err = reopen(tries.fetch_add(1, Ordering::SeqCst) + 1);
            Box::pin(async move { Err(err) })
        });
        let lost: Reopening = Box::pin(async { Err(status(tonic::Code::Unavailable, "cut".into())) });
        let resume = Resume { reopen, last_seq: after_seq, failures: 0, pending: Some(Pending::Open(lost)) };
        (EventStream { inner: None, deadline: None, ended: false, resume: Some(resume) }, calls)
    }

    #[test]
    fn resume_waits_double_up_to_two_seconds_for_six_tries() {
        let waits: Vec<u128> = (0..=RESUME_ATTEMPTS).map_while(resume_wait).map(|d| d.as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000]);
        assert_eq!(resume_wait(RESUME_ATTEMPTS), None);
    }

    #[test]
    fn event_stream_can_move_between_tasks() {
        fn send_unpin<T: Send + Unpin>() {}
        send_unpin::<EventStream>();
        send_unpin::<TextStream>();
    }

    /// The paused clock skips the waits (5.1 s in all) at once.
    #[tokio::test(start_paused = true)]
    async fn a_watch_gives_up_after_six_failed_tries_with_the_last_error() {
        let started = Instant::now();
        let (mut events, calls) =
            after_a_lost_connection(41, |n| status(tonic::Code::Unavailable, format!("still down ({n})")));
        let err = events.next().await.expect("an error").expect_err("no event");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.to_string().contains("still down (6)"), "{err}");
        assert_eq!(*calls.lock().unwrap(), [41; 6], "six tries, each after the last seq yielded");
        assert_eq!(started.elapsed(), Duration::from_millis(100 + 200 + 400 + 800 + 1600 + 2000));
        assert!(events.next().await.is_none(), "the stream ends after the error");
    }

    #[tokio::test]
    async fn a_watch_resumes_only_on_unavailable() {
        let (mut events, calls) = after_a_lost_connection(7, |_| status(tonic::Code::NotFound, "gone".into()));
        let err = events.next().await.expect("an error").expect_err("no event");
        assert_eq!((err.code(), calls.lock().unwrap().clone()), (tonic::Code::NotFound, vec![7]));
        assert!(events.next().await.is_none());
    }
}
