//! The event and text streams returned by `Client::iter` / `Client::stream_text`.
//!
//! Dropping a stream before RunEnded cancels the RPC (HTTP/2 RST_STREAM), and
//! the server then stops the run with `{"kind": "client_cancelled"}` unless the
//! call asked to detach.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use futures_core::Stream;
use tokio::time::Sleep;

use crate::error::Error;
use crate::event::{Event, EventKind, RunResult, RunStatus};
use crate::pb;

/// A stream of a run's typed events, ending after RunEnded.
///
/// Yields `Err` once and ends if the call fails (status, deadline) or the server
/// closes the stream without RunEnded.
pub struct EventStream {
    inner: Option<tonic::Streaming<pb::Event>>,
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    /// RunEnded was yielded: what is left is the trailers, read so the stream
    /// ends cleanly instead of being reset.
    ended: bool,
}

impl EventStream {
    /// `deadline`: when the call's deadline passes, and the timeout it came from.
    pub(crate) fn new(inner: tonic::Streaming<pb::Event>, deadline: Option<(Instant, Duration)>) -> Self {
        let deadline = deadline.map(|(at, d)| (Box::pin(tokio::time::sleep_until(at)), d));
        EventStream { inner: Some(inner), deadline, ended: false }
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

    /// Ends the stream; before the server's end this cancels the call.
    fn finish(&mut self) {
        self.inner = None;
        self.deadline = None;
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
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return this.poll_trailers(cx);
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let item = match Pin::new(inner).poll_next(cx) {
            Poll::Ready(Some(Ok(pe))) => {
                let event = Event::from(pe);
                this.ended = matches!(event.kind, EventKind::RunEnded { .. });
                Ok(event)
            }
            Poll::Ready(Some(Err(status))) => {
                this.finish();
                Err(status.into())
            }
            Poll::Ready(None) => {
                this.finish();
                Err(Error::Protocol("the server closed the event stream before RunEnded".into()))
            }
            Poll::Pending => match this.deadline_passed(cx) {
                Some(after) => {
                    this.finish();
                    Err(Error::deadline(after))
                }
                None => return Poll::Pending,
            },
        };
        Poll::Ready(Some(item))
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
