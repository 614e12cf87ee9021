//! Byte scans on hot paths.

/// Whether `bytes` holds a control byte (below 0x20) or any byte of `set`:
/// what forces a text value to be escaped (XML, JSON). Fixed 32-byte
/// chunks are folded without branches, so the compiler vectorises the
/// scan: long values (a session or web-identity token is hundreds of
/// bytes) cost little per byte.
#[inline]
pub fn has_control_or_any<const N: usize>(bytes: &[u8], set: [u8; N]) -> bool {
    let special = |b: u8| {
        set.iter()
            .fold(u8::from(b < 0x20), |seen, &s| seen | u8::from(b == s))
    };
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(0_u8, |seen, &b| seen | special(b)) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| special(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_control_or_listed_byte_in_any_chunk_or_the_remainder() {
        let quiet = vec![b'a'; 100];
        assert!(!has_control_or_any(&quiet, [b'"']));
        assert!(!has_control_or_any(&[], [b'"']));
        for special in [b'"', b'\n', 0x00, 0x1f] {
            for at in [0, 31, 32, 63, 64, 95, 96, 99] {
                let mut noisy = quiet.clone();
                noisy[at] = special;
                assert!(has_control_or_any(&noisy, [b'"']), "{special} at {at}");
            }
        }
        assert!(!has_control_or_any(b" ~\x7f", [b'"']));
    }
}
