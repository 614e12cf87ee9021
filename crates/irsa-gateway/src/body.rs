//! Bodies that stream through the gateway, verified on the way.
//!
//! A request body is checked while it streams to the upstream; the last
//! bytes that would let the upstream complete the request are held back
//! until the check passed. A failed check ends the stream with an error, so
//! hyper aborts the upstream request mid-body and the store never commits
//! an object. The verdict is left in a [`BodyVerdict`] so the handler can
//! answer the client with S3's error instead of the upstream's.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Empty, Full};
use irsa_sigv4::{AwsChunkedDecoder, AwsChunkedEncoder, ChunkedEvent, PayloadCheck, SigV4Error};
use prometheus::IntCounter;

/// Errors that end a body stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body the gateway sends (responses, upstream requests).
pub type GatewayBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// A body of known bytes.
pub fn full(bytes: impl Into<Bytes>) -> GatewayBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> GatewayBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A client body refused while streaming (wrong hash, bad chunk signature…).
#[derive(Debug, Clone, thiserror::Error)]
#[error("request body refused: {0}")]
pub struct BodyRejected(pub SigV4Error);

/// Where a streaming body leaves the reason it stopped, for the handler.
#[derive(Debug, Clone, Default)]
pub struct BodyVerdict(Arc<Mutex<Option<SigV4Error>>>);

impl BodyVerdict {
    fn set(&self, error: SigV4Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(error);
        }
    }

    /// The verification failure, if the body was refused.
    pub fn failure(&self) -> Option<SigV4Error> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

fn rejected(verdict: &BodyVerdict, error: SigV4Error) -> BoxError {
    verdict.set(error.clone());
    Box::new(BodyRejected(error))
}

/// A body whose every frame adds to a byte counter (metrics).
pub struct Counted<B> {
    inner: B,
    counter: IntCounter,
}

impl<B> Counted<B> {
    pub fn new(inner: B, counter: IntCounter) -> Self {
        Self { inner, counter }
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            if let Some(data) = frame.data_ref() {
                self.counter.inc_by(data.len() as u64);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body that is not aws-chunked: streams as is while its SHA-256 and
/// `x-amz-checksum-*` are computed; the last frame goes out only once
/// [`PayloadCheck::finish`] accepted the whole body.
pub struct CheckedBody<B> {
    inner: B,
    check: Option<PayloadCheck>,
    held: Option<Bytes>,
    verdict: BodyVerdict,
    size_hint: SizeHint,
}

impl<B: Body> CheckedBody<B> {
    pub fn new(inner: B, check: PayloadCheck, verdict: BodyVerdict) -> Self {
        let size_hint = inner.size_hint();
        Self {
            inner,
            check: Some(check),
            held: None,
            verdict,
            size_hint,
        }
    }
}

impl<B> Body for CheckedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.check.is_none() {
                return Poll::Ready(this.held.take().map(|d| Ok(Frame::data(d))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        // HTTP trailers of a plain body carry nothing S3 reads.
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    if let Some(check) = &mut this.check {
                        check.update(&data);
                    }
                    if let Some(previous) = this.held.replace(data) {
                        return Poll::Ready(Some(Ok(Frame::data(previous))));
                    }
                }
                Some(Err(e)) => {
                    this.check = None;
                    this.held = None;
                    tracing::debug!(error = %e, "client body ended early");
                    return Poll::Ready(Some(Err(rejected(
                        &this.verdict,
                        SigV4Error::IncompleteBody,
                    ))));
                }
                None => {
                    let Some(check) = this.check.take() else {
                        return Poll::Ready(None);
                    };
                    if let Err(e) = check.finish() {
                        this.held = None;
                        return Poll::Ready(Some(Err(rejected(&this.verdict, e))));
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.size_hint
    }
}

/// How decoded aws-chunked data is framed again for the upstream.
pub enum Reframe {
    /// Signed chunks, re-signed with the gateway's key (a fresh chain from
    /// the upstream request's signature).
    Signed(AwsChunkedEncoder),
}

/// An aws-chunked body: decoded and verified chunk by chunk (signatures,
/// trailer signature, checksum, decoded length) by irsa-sigv4's decoder,
/// and framed again for the upstream. A chunk goes out only after its
/// signature verified; the final chunk and trailers only after the whole
/// body verified, so a body that goes bad half-way never completes
/// upstream.
pub struct ChunkedBody<B> {
    inner: B,
    decoder: AwsChunkedDecoder,
    reframe: Reframe,
    chunk: BytesMut,
    out: VecDeque<Bytes>,
    ended: bool,
    failed: bool,
    verdict: BodyVerdict,
}

impl<B> ChunkedBody<B> {
    pub fn new(
        inner: B,
        decoder: AwsChunkedDecoder,
        reframe: Reframe,
        verdict: BodyVerdict,
    ) -> Self {
        Self {
            inner,
            decoder,
            reframe,
            chunk: BytesMut::new(),
            out: VecDeque::new(),
            ended: false,
            failed: false,
            verdict,
        }
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), SigV4Error> {
        loop {
            let (used, event) = self.decoder.decode(input)?;
            input = &input[used..];
            match event {
                ChunkedEvent::Data(d) => self.chunk.extend_from_slice(d),
                ChunkedEvent::ChunkEnd { .. } => {
                    let data = self.chunk.split().freeze();
                    self.emit_chunk(&data);
                }
                ChunkedEvent::End => {
                    self.emit_end()?;
                    if input.is_empty() {
                        return Ok(());
                    }
                }
                ChunkedEvent::NeedInput => return Ok(()),
            }
        }
    }

    fn emit_chunk(&mut self, data: &Bytes) {
        if data.is_empty() {
            return;
        }
        match &mut self.reframe {
            Reframe::Signed(encoder) => {
                let header = encoder.chunk_header(data);
                self.out.push_back(Bytes::from(header));
            }
        }
        self.out.push_back(data.clone());
        self.out.push_back(Bytes::from_static(b"\r\n"));
    }

    fn emit_end(&mut self) -> Result<(), SigV4Error> {
        let mut out = Vec::with_capacity(256);
        match &mut self.reframe {
            // The trailer was verified here; the upstream framing has none.
            Reframe::Signed(encoder) => encoder.finish(&[], &mut out)?,
        }
        self.out.push_back(Bytes::from(out));
        Ok(())
    }
}

impl<B> Body for ChunkedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(next) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(next))));
            }
            if this.ended || this.failed {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if let Err(e) = this.feed(&data) {
                        this.failed = true;
                        this.out.clear();
                        return Poll::Ready(Some(Err(rejected(&this.verdict, e))));
                    }
                }
                Some(Err(e)) => {
                    this.failed = true;
                    this.out.clear();
                    tracing::debug!(error = %e, "client body ended early");
                    return Poll::Ready(Some(Err(rejected(
                        &this.verdict,
                        SigV4Error::IncompleteBody,
                    ))));
                }
                None => {
                    this.ended = true;
                    if let Err(e) = this.decoder.finish() {
                        this.failed = true;
                        this.out.clear();
                        return Poll::Ready(Some(Err(rejected(&this.verdict, e))));
                    }
                }
            }
        }
    }
}

impl<B> std::fmt::Debug for Counted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted").finish_non_exhaustive()
    }
}

impl<B> std::fmt::Debug for CheckedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedBody")
            .field("check", &self.check)
            .field("holding", &self.held.as_ref().map(Bytes::len))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Reframe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reframe::Signed(encoder) => f.debug_tuple("Signed").field(encoder).finish(),
        }
    }
}

impl<B> std::fmt::Debug for ChunkedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedBody")
            .field("decoder", &self.decoder)
            .field("reframe", &self.reframe)
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Reads a whole (small) body, verified like a streamed one, into memory:
/// for requests the gateway must read before it can authorize or answer
/// (bucket policies, DeleteObjects, tagging). `Err(None)`: longer than
/// `limit` decoded bytes.
pub async fn read_verified<B>(
    mut inner: B,
    mut verifier: Verifier,
    limit: usize,
) -> Result<Bytes, Option<SigV4Error>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut out = Vec::new();
    loop {
        let frame = match inner.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(_)) => return Err(Some(SigV4Error::IncompleteBody)),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match &mut verifier {
            Verifier::Plain(check) => {
                check.update(&data);
                out.extend_from_slice(&data);
            }
            Verifier::Chunked(decoder) => {
                decoder.decode_into(&data, &mut out).map_err(Some)?;
            }
        }
        if out.len() > limit {
            return Err(None);
        }
    }
    match verifier {
        Verifier::Plain(check) => check.finish().map_err(Some)?,
        Verifier::Chunked(decoder) => decoder.finish().map_err(Some)?,
    }
    Ok(Bytes::from(out))
}

/// The check a request body needs, chosen from its verified signature.
// One per request, built once and moved into the body: size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Verifier {
    Plain(PayloadCheck),
    Chunked(Box<AwsChunkedDecoder>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verifier::Plain(check) => f.debug_tuple("Plain").field(check).finish(),
            Verifier::Chunked(decoder) => f.debug_tuple("Chunked").field(decoder).finish(),
        }
    }
}
