//! Decoding and verifying a 1 MiB aws-chunked body (64 KiB chunks, as
//! SDKs send them): signed chunks, and unsigned chunks with a CRC32
//! trailer; and re-signing it for forwarding.

// Bench code: setup may unwrap.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use irsa_core::SecretString;
use irsa_sigv4::{
    AwsChunkedDecoder, AwsChunkedEncoder, ChecksumAlgorithm, Checksummer, ChunkSigningContext,
    ChunkedEvent, ChunkedMode, ChunkedOptions,
};

const MIB: usize = 1 << 20;
const CHUNK: usize = 64 * 1024;

fn context() -> ChunkSigningContext {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_696_897_800);
    ChunkSigningContext::new(
        &SecretString::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        now,
        "us-east-1",
        "s3",
        &"4f".repeat(32),
    )
    .unwrap()
}

fn signed_body(payload: &[u8]) -> Vec<u8> {
    let mut encoder = AwsChunkedEncoder::new(context(), false);
    let mut body = Vec::with_capacity(payload.len() + 4096);
    for chunk in payload.chunks(CHUNK) {
        encoder.encode_chunk(chunk, &mut body);
    }
    encoder.finish(&[], &mut body).unwrap();
    body
}

fn unsigned_trailer_body(payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + 4096);
    for chunk in payload.chunks(CHUNK) {
        body.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    let mut crc = Checksummer::new(ChecksumAlgorithm::Crc32);
    crc.update(payload);
    body.extend_from_slice(
        format!("0\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc.to_base64()).as_bytes(),
    );
    body
}

/// Feeds the body in 16 KiB reads, as a socket would deliver it.
fn decode(mut decoder: AwsChunkedDecoder, body: &[u8]) -> u64 {
    let mut decoded_len = 0_u64;
    for piece in body.chunks(16 * 1024) {
        let mut input = piece;
        loop {
            let (used, event) = decoder.decode(input).unwrap();
            input = &input[used..];
            match event {
                ChunkedEvent::Data(d) => decoded_len += black_box(d).len() as u64,
                ChunkedEvent::ChunkEnd { .. } | ChunkedEvent::End => {}
                ChunkedEvent::NeedInput => break,
            }
        }
    }
    decoder.finish().unwrap();
    decoded_len
}

fn bench(c: &mut Criterion) {
    let payload: Vec<u8> = (0..MIB).map(|i| u8::try_from(i % 251).unwrap()).collect();
    let signed = signed_body(&payload);
    let unsigned = unsigned_trailer_body(&payload);
    let options = ChunkedOptions {
        decoded_content_length: Some(MIB as u64),
        ..ChunkedOptions::default()
    };
    let mut group = c.benchmark_group("aws-chunked 1 MiB");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("decode+verify signed chunks", |b| {
        b.iter(|| {
            let decoder =
                AwsChunkedDecoder::new(ChunkedMode::Signed(context()), options.clone()).unwrap();
            assert_eq!(decode(decoder, &signed), MIB as u64);
        });
    });
    group.bench_function("decode unsigned chunks + CRC32 trailer", |b| {
        let options = ChunkedOptions {
            trailer_checksum: Some(ChecksumAlgorithm::Crc32),
            ..options.clone()
        };
        b.iter(|| {
            let decoder =
                AwsChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, options.clone()).unwrap();
            assert_eq!(decode(decoder, &unsigned), MIB as u64);
        });
    });
    group.bench_function("re-sign 1 MiB in 64 KiB chunks", |b| {
        b.iter(|| black_box(signed_body(black_box(&payload))).len());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
