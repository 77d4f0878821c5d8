//! The output cap of a run-to-completion sandbox (`Limits::output_bytes`): stdout and stderr
//! together may carry that many bytes; the byte that would exceed it is never delivered, and
//! the backend kills the sandbox and reports `LimitKind::Output`.
//!
//! Both backends capture through this, so the cap means the same on each. A stream the caller
//! asked to inherit is captured too (piped, then pumped to clawc's own stdout or stderr), since
//! a program writing straight to the terminal could not be bounded.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{BoxedRead, Stdio};

/// The bytes left for one sandbox's stdout and stderr together.
#[derive(Debug)]
pub(crate) struct OutputCap {
    shared: Arc<Shared>,
    pumps: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    left: AtomicU64,
    exceeded: AtomicBool,
    notify: Notify,
}

impl OutputCap {
    /// `None` when the policy sets no cap (a long-lived server's sandbox).
    pub(crate) fn new(limit: Option<u64>) -> Option<Self> {
        limit.map(|limit| Self {
            shared: Arc::new(Shared {
                left: AtomicU64::new(limit),
                exceeded: AtomicBool::new(false),
                notify: Notify::new(),
            }),
            pumps: Vec::new(),
        })
    }

    /// A reader that delivers the stream until the shared budget runs out, then ends.
    pub(crate) fn wrap(&self, inner: BoxedRead) -> BoxedRead {
        Box::new(Capped {
            inner,
            shared: Arc::clone(&self.shared),
            done: false,
        })
    }

    /// Copies a captured stream to clawc's own stdout (`to_stderr` false) or stderr, for a
    /// stream the caller asked to inherit.
    fn pump(&mut self, stream: BoxedRead, to_stderr: bool) {
        let mut reader = self.wrap(stream);
        self.pumps.push(tokio::spawn(async move {
            // A closed terminal is the caller's business: the sandbox is torn down either way.
            let _ = if to_stderr {
                copy_flushed(&mut reader, &mut tokio::io::stderr()).await
            } else {
                copy_flushed(&mut reader, &mut tokio::io::stdout()).await
            };
        }));
    }

    /// What the backend asks for at spawn: an inherited stream is piped, to be counted.
    pub(crate) fn spawn_choice(cap: Option<&Self>, requested: Stdio) -> Stdio {
        match (cap, requested) {
            (Some(_), Stdio::Inherit) => Stdio::Piped,
            (_, requested) => requested,
        }
    }

    /// Routes one spawned stream: wrapped for the caller when it asked for a pipe, pumped to
    /// clawc's own stream when it asked to inherit. Returns what the caller may take.
    pub(crate) fn route(
        cap: Option<&mut Self>,
        requested: Stdio,
        stream: Option<BoxedRead>,
        to_stderr: bool,
    ) -> Option<BoxedRead> {
        let Some(cap) = cap else {
            return stream;
        };
        let stream = stream?;
        match requested {
            Stdio::Inherit => {
                cap.pump(stream, to_stderr);
                None
            }
            _ => Some(cap.wrap(stream)),
        }
    }

    /// Resolves once the budget is exceeded (never, if it is not).
    pub(crate) async fn exceeded(&self) {
        loop {
            let notified = self.shared.notify.notified();
            if self.is_exceeded() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn is_exceeded(&self) -> bool {
        self.shared.exceeded.load(Ordering::SeqCst)
    }

    /// Waits until the pumped streams are delivered: called once the sandbox is gone, when
    /// every writer has closed, so this ends.
    pub(crate) async fn drain(&mut self) {
        for pump in self.pumps.drain(..) {
            let _ = pump.await;
        }
    }
}

async fn copy_flushed<W: tokio::io::AsyncWrite + Unpin>(
    reader: &mut BoxedRead,
    writer: &mut W,
) -> std::io::Result<()> {
    tokio::io::copy(reader, writer).await?;
    writer.flush().await
}

struct Capped {
    inner: BoxedRead,
    shared: Arc<Shared>,
    done: bool,
}

impl AsyncRead for Capped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.done || this.shared.exceeded.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let read = (buf.filled().len() - before) as u64;
        if read == 0 {
            this.done = true;
            return Poll::Ready(Ok(()));
        }
        // Take `read` bytes from the budget; what does not fit is cut off and ends the run.
        let taken = this
            .shared
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(left.saturating_sub(read))
            })
            .unwrap_or(0);
        if read > taken {
            let keep = before + usize::try_from(taken).unwrap_or(0);
            buf.set_filled(keep);
            this.done = true;
            this.shared.exceeded.store(true, Ordering::SeqCst);
            this.shared.notify.notify_waiters();
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn reader(bytes: &'static [u8]) -> BoxedRead {
        Box::new(bytes)
    }

    #[tokio::test]
    async fn both_streams_share_one_budget_and_the_excess_is_never_delivered() {
        let cap = OutputCap::new(Some(10)).expect("a cap");
        let mut out = String::new();
        cap.wrap(reader(b"123456"))
            .read_to_string(&mut out)
            .await
            .expect("read");
        assert_eq!(out, "123456");
        assert!(!cap.is_exceeded());
        let mut err = String::new();
        cap.wrap(reader(b"abcdefgh"))
            .read_to_string(&mut err)
            .await
            .expect("read");
        assert_eq!(err, "abcd");
        assert!(cap.is_exceeded());
        tokio::time::timeout(std::time::Duration::from_secs(1), cap.exceeded())
            .await
            .expect("exceeded resolves");
    }

    #[tokio::test]
    async fn exactly_the_limit_is_not_exceeding_it() {
        let cap = OutputCap::new(Some(4)).expect("a cap");
        let mut out = Vec::new();
        cap.wrap(reader(b"abcd"))
            .read_to_end(&mut out)
            .await
            .expect("read");
        assert_eq!(out, b"abcd");
        assert!(!cap.is_exceeded());
    }
}
