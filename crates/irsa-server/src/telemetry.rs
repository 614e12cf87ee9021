//! Logging setup.
//!
//! Log lines are formatted on the thread that logs them and written to
//! stderr by one background thread (`tracing-appender`'s non-blocking
//! writer), so a request never waits on a `write(2)` to a slow pipe or
//! terminal, and lines logged together leave in one batched write.
//!
//! Policy when stderr cannot keep up: the queue holds
//! [`BUFFERED_LINES_LIMIT`] lines; past that, logging threads wait for room
//! (not lossy), because the audit line of every AssumeRoleWithWebIdentity
//! must not be dropped. On a normal exit the [`LogGuard`] flushes the queue.

use std::io::Write;

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::json_log::{JsonLine, JsonMembers};

/// Lines queued for the writer thread before loggers wait (about 4 MB of
/// typical 500-byte lines; a few seconds of audit lines at full load).
pub const BUFFERED_LINES_LIMIT: usize = 8192;

/// Bytes gathered before one write to stderr; the writer also flushes
/// whenever its queue runs empty, so lines are never held back while idle.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Keeps the log writer thread running. Drop it last (at the end of `main`'s
/// command): dropping flushes every queued line to stderr, waiting up to
/// about a second for a blocked stderr.
#[must_use = "dropping the guard stops the log writer; keep it until the process exits"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

/// A non-blocking, non-lossy writer over `sink` with a queue of
/// `buffered_lines` lines, written by one background thread.
pub fn non_blocking_writer<W: Write + Send + 'static>(
    sink: W,
    buffered_lines: usize,
) -> (NonBlocking, LogGuard) {
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(buffered_lines)
        .lossy(false)
        .thread_name("irsa-log-writer")
        .finish(std::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, sink));
    (writer, LogGuard { _writer: guard })
}

/// Installs the global tracing subscriber. The filter comes from `IRSA_LOG`
/// (or `RUST_LOG`), defaulting to `info`. Keep the returned guard alive
/// until the process exits, or queued lines are lost.
pub fn init_logging(format: LogFormat) -> LogGuard {
    let filter = std::env::var("IRSA_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (writer, guard) = non_blocking_writer(std::io::stderr(), BUFFERED_LINES_LIMIT);
    // A failed log write must never reach the request: the default reports
    // it with `eprintln!`, which panics when stderr is that same unwritable
    // log and ends the connection without an answer (found by the soak).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .log_internal_errors(false);
    // A second call (tests) keeps the first subscriber; its own writer
    // thread then ends when the returned guard is dropped.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .try_init(),
    };
    guard
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects what the writer thread writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_makes_loggers_wait_and_the_guard_flushes_every_line() {
        let sink = Sink::default();
        // A queue far smaller than the lines logged: not lossy means every
        // line still arrives, in order.
        let (writer, guard) = non_blocking_writer(sink.clone(), 4);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for line in 0..5000 {
                tracing::info!(target: "irsa::audit", line, "assumed");
            }
        });
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let numbers: Vec<usize> = written
            .lines()
            .map(|l| {
                assert!(l.contains("irsa::audit"), "{l}");
                l.rsplit("line=").next().unwrap().trim().parse().unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..5000).collect::<Vec<_>>());
    }
}
