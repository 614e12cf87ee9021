//! AWS Query decoding (STS/IAM): query string and form body → parameters →
//! a typed, validated request of every implemented operation.
//!
//! Input: `QUERY '\n' BODY`; without a newline the whole input is the body.
//! Invariants:
//! - bad input is a 4xx `ApiError`, never a panic or a 5xx;
//! - query string + body decode exactly like the one string `QUERY&BODY`
//!   (the server may get parameters either way);
//! - a decoded parameter map re-encoded with percent-escapes decodes to the
//!   same map (nothing is lost or guessed in decoding).

#![no_main]

use irsa_api::{decode_request, parse_query, Params, QueryRequest, Service};
use libfuzzer_sys::fuzz_target;

fn encode_component(text: &str, out: &mut Vec<u8>) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

fn encode(params: &Params) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode_component(key, &mut out);
        out.push(b'=');
        encode_component(value, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };

    if let Ok(params) = parse_query(body) {
        let again = parse_query(&encode(&params)).expect("re-encoded parameters must decode");
        assert_eq!(
            again, params,
            "percent-encoding round trip changed the parameters"
        );
    }

    let decoded = QueryRequest::decode(query, Some(body));
    if let Some(query) = query {
        let mut joined = query.to_vec();
        joined.push(b'&');
        joined.extend_from_slice(body);
        let single = QueryRequest::decode(None, Some(&joined));
        match (&decoded, &single) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.code, b.code),
            _ => panic!("query+body and the joined string decode differently"),
        }
    }
    let request = match decoded {
        Ok(request) => request,
        Err(error) => {
            assert!(
                error.http_status() < 500,
                "decode error is a server fault: {error}"
            );
            return;
        }
    };
    for scope in [None, Some(Service::Sts), Some(Service::Iam)] {
        if let Err(error) = decode_request(&request, scope) {
            assert!(
                error.http_status() < 500,
                "operation decode error is a server fault: {error}"
            );
        }
    }
});
