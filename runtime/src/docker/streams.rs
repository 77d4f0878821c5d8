//! The program's stdio over one attach connection. Docker multiplexes stdout and stderr on it;
//! we split them back into separate pipes (or the caller's own stdio) and feed stdin from a pipe
//! whose drop means EOF, like a real child process's.

use std::time::Duration;

use bollard::container::{AttachContainerResults, LogOutput};
use bollard::query_parameters::AttachContainerOptions;
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use std::sync::Arc;

use crate::sandbox::output::OutputBudget;
use crate::sandbox::{BoxedRead, BoxedWrite, SandboxCommand, Stdio};

/// Per-stream buffer between the attach connection and the caller: a full pipe pushes back on
/// the program, as a kernel pipe would.
const PIPE_BUFFER: usize = 64 * 1024;

/// The caller's ends of the piped streams, and the tasks moving bytes.
#[derive(Default)]
pub struct AttachedStdio {
    pub stdin: Option<BoxedWrite>,
    pub stdout: Option<BoxedRead>,
    pub stderr: Option<BoxedRead>,
    pumps: Pumps,
}

#[derive(Default)]
struct Pumps {
    input: Option<JoinHandle<()>>,
    output: Option<JoinHandle<()>>,
}

impl AttachedStdio {
    /// After the program exited: let the output pump deliver what is still in flight (bounded by
    /// `grace`, since a caller that never reads a full pipe would otherwise stall us forever),
    /// and stop feeding stdin.
    pub async fn finish(&mut self, grace: Duration) {
        if let Some(input) = self.pumps.input.take() {
            input.abort();
        }
        if let Some(mut output) = self.pumps.output.take() {
            if tokio::time::timeout(grace, &mut output).await.is_err() {
                output.abort();
            }
        }
    }
}

impl Drop for Pumps {
    fn drop(&mut self) {
        for task in [self.input.take(), self.output.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

/// Attach to the (created, not yet started) container so no early output is lost.
pub async fn attach(
    docker: &Docker,
    id: &str,
    command: &SandboxCommand,
    budget: Option<Arc<OutputBudget>>,
) -> Result<AttachedStdio, bollard::errors::Error> {
    if [command.stdin, command.stdout, command.stderr] == [Stdio::Null; 3] {
        return Ok(AttachedStdio::default());
    }
    let options = AttachContainerOptions {
        stream: true,
        stdin: command.stdin != Stdio::Null,
        stdout: command.stdout != Stdio::Null,
        stderr: command.stderr != Stdio::Null,
        ..Default::default()
    };
    let AttachContainerResults { output, input } =
        docker.attach_container(id, Some(options)).await?;

    let mut attached = AttachedStdio::default();
    let stdout = sink(command.stdout, &mut attached.stdout, || {
        Box::new(tokio::io::stdout())
    });
    let stderr = sink(command.stderr, &mut attached.stderr, || {
        Box::new(tokio::io::stderr())
    });
    attached.pumps.output = Some(tokio::spawn(demultiplex(output, stdout, stderr, budget)));

    attached.pumps.input = match command.stdin {
        Stdio::Null => None,
        Stdio::Inherit => Some(tokio::spawn(feed_chunks(read_own_stdin(), input))),
        Stdio::Piped => {
            let (caller, ours) = tokio::io::duplex(PIPE_BUFFER);
            attached.stdin = Some(Box::new(caller));
            Some(tokio::spawn(feed(ours, input)))
        }
    };
    Ok(attached)
}

/// Where one output stream goes.
enum Sink {
    Pipe(DuplexStream),
    Inherit(Box<dyn AsyncWrite + Send + Unpin>),
    Discard,
}

impl Sink {
    async fn write(&mut self, bytes: &[u8]) {
        let written = match self {
            Sink::Pipe(pipe) => pipe.write_all(bytes).await,
            Sink::Inherit(out) => match out.write_all(bytes).await {
                Ok(()) => out.flush().await,
                Err(e) => Err(e),
            },
            Sink::Discard => Ok(()),
        };
        // A reader that went away (or a closed terminal) must not stop the other stream.
        if written.is_err() {
            *self = Sink::Discard;
        }
    }
}

fn sink(
    stdio: Stdio,
    caller_end: &mut Option<BoxedRead>,
    inherit: impl FnOnce() -> Box<dyn AsyncWrite + Send + Unpin>,
) -> Sink {
    match stdio {
        Stdio::Null => Sink::Discard,
        Stdio::Inherit => Sink::Inherit(inherit()),
        Stdio::Piped => {
            let (caller, ours) = tokio::io::duplex(PIPE_BUFFER);
            *caller_end = Some(Box::new(caller));
            Sink::Pipe(ours)
        }
    }
}

async fn demultiplex(
    mut output: impl futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
    mut stdout: Sink,
    mut stderr: Sink,
    budget: Option<Arc<OutputBudget>>,
) {
    while let Some(Ok(frame)) = output.next().await {
        let (sink, message) = match frame {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (&mut stdout, message)
            }
            LogOutput::StdErr { message } => (&mut stderr, message),
            LogOutput::StdIn { .. } => continue,
        };
        // The output cap: what exceeds it is never delivered, and nothing after it.
        let admitted = budget
            .as_ref()
            .map_or(message.len(), |budget| budget.admit(message.len()));
        sink.write(&message[..admitted]).await;
        if admitted < message.len() {
            break;
        }
    }
    // Dropping the pipes gives the caller EOF.
}

/// Our own stdin, read on a plain thread. `tokio::io::stdin` would read on the runtime's
/// blocking pool, and a runtime cannot shut down while such a read waits: `clawc sandbox exec`
/// would hang at exit on a terminal nobody types into. A detached thread just dies with the
/// process; once the program is gone its next chunk finds the channel closed and it stops.
fn read_own_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (chunks, receiver) = mpsc::channel(4);
    let reader = std::thread::Builder::new()
        .name("sandbox-stdin".into())
        .spawn(move || {
            let mut buffer = vec![0u8; PIPE_BUFFER];
            let mut stdin = std::io::stdin();
            loop {
                match std::io::Read::read(&mut stdin, &mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if chunks.blocking_send(buffer[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    if let Err(e) = reader {
        // Without the thread the channel closes at once: the program sees an empty stdin.
        tracing::warn!("cannot read stdin for the sandbox: {e}");
    }
    receiver
}

/// Feed chunks into the container's stdin until the sender ends, then half-close it.
async fn feed_chunks(
    mut chunks: mpsc::Receiver<Vec<u8>>,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
) {
    while let Some(chunk) = chunks.recv().await {
        if input.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = input.shutdown().await;
}

/// Copy `from` into the container's stdin, then half-close it so the program sees EOF.
async fn feed(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
) {
    // An error means the program closed its stdin or exited; either way there is nothing to do.
    let _ = tokio::io::copy(&mut from, &mut input).await;
    let _ = input.shutdown().await;
}
