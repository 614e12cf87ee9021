//! hyper answers a request head over the listener's limits (too many
//! headers, too many bytes) itself, with a bare `431` and no body, and
//! closes the connection. S3 clients expect the service's own error
//! document, so the connection's I/O is wrapped: hyper's automatic 431 is
//! recognised on its way out and replaced by the front's answer
//! ([`crate::Front::head_too_large`]); the connection then closes after
//! draining what the client still sends, so the client can read the
//! answer instead of a reset.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

/// What hyper writes for `Parse::TooLarge` (a head with no body).
const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n";
/// hyper's automatic answer is a status line plus `content-length` and
/// `date`: far shorter than this. A longer write is never it.
const HYPER_431_MAX_LEN: usize = 256;
/// After the answer, at most this much of the oversized request is read
/// and dropped (and for at most [`LINGER_TIME`]) before closing.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Whether one write is exactly hyper's automatic 431: the status line,
/// a few headers, the blank line, no body.
fn is_hyper_431(bufs: &[io::IoSlice<'_>]) -> bool {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    if total > HYPER_431_MAX_LEN {
        return false;
    }
    let mut joined = Vec::with_capacity(total);
    for b in bufs {
        joined.extend_from_slice(b);
    }
    joined.starts_with(HYPER_431)
        && joined.ends_with(b"\r\n\r\n")
        && joined.windows(4).filter(|w| w == b"\r\n\r\n").count() == 1
}

/// Makes the replacement answer, only when it is needed.
pub(crate) type AnswerFn = std::sync::Arc<dyn Fn() -> Option<Bytes> + Send + Sync>;

/// A connection's I/O with hyper's automatic 431 replaced by `answer`.
pub(crate) struct OversizedHeadAnswer<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    inner: Option<IO>,
    /// Makes the complete HTTP response to send instead (`None`: keep hyper's).
    answer: Option<AnswerFn>,
    /// Set once hyper's 431 was swallowed: what of `answer` is left to send.
    replacing: Option<Bytes>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> OversizedHeadAnswer<IO> {
    pub(crate) fn new(inner: IO, answer: Option<AnswerFn>) -> Self {
        Self {
            inner: Some(inner),
            answer,
            replacing: None,
        }
    }

    fn io(&mut self) -> io::Result<&mut IO> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))
    }

    /// Sends what is left of the replacement answer.
    fn poll_drain_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.replacing.as_mut().filter(|r| !r.is_empty()) {
            let mut pending = rest.clone();
            let Some(io) = self.inner.as_mut() else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            let n = match Pin::new(io).poll_write(cx, &pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            bytes::Buf::advance(&mut pending, n);
            self.replacing = Some(pending);
        }
        Poll::Ready(Ok(()))
    }

    /// The write path shared by `poll_write` and `poll_write_vectored`.
    fn poll_write_bufs(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if self.replacing.is_none() && is_hyper_431(bufs) {
            if let Some(answer) = self.answer.take().and_then(|make| make()) {
                tracing::debug!("request head over the limits: answering with the service's error");
                self.replacing = Some(answer);
                return Poll::Ready(Ok(total));
            }
        }
        if self.replacing.is_some() {
            // Nothing follows hyper's 431 on this connection; swallow it.
            return match self.poll_drain_answer(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(total)),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        let io = self.io()?;
        Pin::new(io).poll_write_vectored(cx, bufs)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for OversizedHeadAnswer<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let io = self.io()?;
        Pin::new(io).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for OversizedHeadAnswer<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_bufs(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_bufs(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain_answer(cx))?;
        let io = self.io()?;
        Pin::new(io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain_answer(cx))?;
        let io = self.io()?;
        Pin::new(io).poll_shutdown(cx)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for OversizedHeadAnswer<IO> {
    fn drop(&mut self) {
        if self.replacing.is_none() {
            return;
        }
        let Some(mut io) = self.inner.take() else {
            return;
        };
        let rest = self.replacing.take().unwrap_or_default();
        // Closing with the rest of the oversized request unread would make
        // the kernel reset the connection, and the client could lose the
        // answer: send what is left, read the rest away (bounded), close.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                let _ = tokio::time::timeout(LINGER_TIME, async {
                    if !rest.is_empty() {
                        io.write_all(&rest).await?;
                    }
                    io.flush().await?;
                    let _ = io.shutdown().await;
                    let mut scratch = vec![0u8; 16 * 1024];
                    let mut drained = 0usize;
                    while drained < LINGER_BYTES {
                        let n = io.read(&mut scratch).await?;
                        if n == 0 {
                            break;
                        }
                        drained += n;
                    }
                    Ok::<_, io::Error>(())
                })
                .await;
            });
        }
    }
}

/// A complete HTTP/1.1 response (`Connection: close`) for the wire.
pub(crate) fn raw_response(response: &http::Response<Bytes>) -> Bytes {
    let status = response.status();
    let mut out = Vec::with_capacity(256 + response.body().len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    for (name, value) in response.headers() {
        if name == http::header::CONTENT_LENGTH || name == http::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            response.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(response.body());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_hyper_automatic_431() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sat, 05 Dec 2026 20:00:00 GMT\r\n\r\n";
        assert!(is_hyper_431(&[io::IoSlice::new(hyper)]));
        let (a, b) = hyper.split_at(20);
        assert!(is_hyper_431(&[io::IoSlice::new(a), io::IoSlice::new(b)]));
        let mut with_body = hyper.to_vec();
        with_body.extend_from_slice(b"body");
        assert!(!is_hyper_431(&[io::IoSlice::new(&with_body)]));
        assert!(!is_hyper_431(&[io::IoSlice::new(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        )]));
    }

    #[test]
    fn raw_responses_close_the_connection() {
        let mut response = http::Response::new(Bytes::from_static(b"<Error/>"));
        *response.status_mut() = http::StatusCode::BAD_REQUEST;
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/xml"),
        );
        let raw = raw_response(&response);
        assert_eq!(
            &raw[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/xml\r\ncontent-length: 8\r\nconnection: close\r\n\r\n<Error/>"
        );
    }
}
