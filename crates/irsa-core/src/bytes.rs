//! Byte scans on hot paths.

/// Whether any byte of `bytes` satisfies `special`. Fixed 32-byte chunks
/// are folded without branches, so the compiler vectorises the scan: long
/// values (a session or web-identity token is hundreds of bytes) cost
/// little per byte.
#[inline]
pub fn any_byte(bytes: &[u8], special: impl Fn(u8) -> bool) -> bool {
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        if chunk
            .iter()
            .fold(0_u8, |seen, &b| seen | u8::from(special(b)))
            != 0
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| special(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_byte_in_any_chunk_or_the_remainder() {
        let quiet = vec![b'a'; 100];
        assert!(!any_byte(&quiet, |b| b == b'"'));
        assert!(!any_byte(&[], |b| b == b'"'));
        for at in [0, 31, 32, 63, 64, 95, 96, 99] {
            let mut noisy = quiet.clone();
            noisy[at] = b'"';
            assert!(any_byte(&noisy, |b| b == b'"'), "at {at}");
        }
    }
}
