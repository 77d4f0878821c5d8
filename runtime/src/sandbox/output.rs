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
    shared: Arc<OutputBudget>,
    pumps: Vec<JoinHandle<()>>,
}

/// The budget itself, shared by every stream of one sandbox (and by a backend that moves the
/// bytes itself, as Docker's demultiplexer does).
#[derive(Debug)]
pub(crate) struct OutputBudget {
    left: AtomicU64,
    exceeded: AtomicBool,
    notify: Notify,
}

impl OutputBudget {
    /// `None` when the policy sets no cap (a long-lived server's sandbox).
    pub(crate) fn new(limit: Option<u64>) -> Option<Arc<Self>> {
        limit.map(|limit| {
            Arc::new(Self {
                left: AtomicU64::new(limit),
                exceeded: AtomicBool::new(false),
                notify: Notify::new(),
            })
        })
    }

    /// Takes `len` bytes from the budget and says how many of them may be delivered; fewer
    /// than `len` means the cap is exceeded (recorded, and the waiters woken).
    pub(crate) fn admit(&self, len: usize) -> usize {
        let wanted = len as u64;
        let taken = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(left.saturating_sub(wanted))
            })
            .unwrap_or(0)
            .min(wanted);
        if taken < wanted {
            self.exceeded.store(true, Ordering::SeqCst);
            self.notify.notify_waiters();
        }
        usize::try_from(taken).unwrap_or(0)
    }

    pub(crate) fn is_exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }

    /// Resolves once the budget is exceeded (never, if it is not).
    pub(crate) async fn exceeded(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_exceeded() {
                return;
            }
            notified.await;
        }
    }
}

impl OutputCap {
    /// `None` when the policy sets no cap (a long-lived server's sandbox).
    pub(crate) fn new(limit: Option<u64>) -> Option<Self> {
        OutputBudget::new(limit).map(|shared| Self {
            shared,
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

    pub(crate) fn budget(&self) -> &OutputBudget {
        &self.shared
    }

    pub(crate) fn is_exceeded(&self) -> bool {
        self.shared.is_exceeded()
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
    shared: Arc<OutputBudget>,
    done: bool,
}

impl AsyncRead for Capped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.done || this.shared.is_exceeded() {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let read = buf.filled().len() - before;
        if read == 0 {
            this.done = true;
            return Poll::Ready(Ok(()));
        }
        // What does not fit is cut off, and ends the run.
        let admitted = this.shared.admit(read);
        if admitted < read {
            buf.set_filled(before + admitted);
            this.done = true;
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
        tokio::time::timeout(std::time::Duration::from_secs(1), cap.budget().exceeded())
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
