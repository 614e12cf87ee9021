//! Request ids without a syscall per request.
//!
//! Request ids need uniqueness, not secrecy, and one is minted for every
//! request; reading the OS RNG for each (a `getrandom` syscall) was a visible
//! share of a request's cost. Instead a process-wide counter is run through
//! permutations keyed once per process from the OS RNG: within a process
//! ids never repeat (a permutation of distinct counters gives distinct
//! values), and across processes and replicas the keys make them look
//! random, so collisions are as unlikely as between random ids of the same
//! width.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rand::rngs::OsRng;
use rand::RngCore;

/// The 122 bits of a version-4 UUID that are not version or variant.
const UUID_FREE_BITS: u128 = (1 << 122) - 1;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);
static PROCESS_KEYS: OnceLock<ProcessKeys> = OnceLock::new();

/// Per-process keys of the permutations, read once from the OS RNG.
struct ProcessKeys {
    uuid: u128,
    short: u64,
}

fn process_keys() -> &'static ProcessKeys {
    PROCESS_KEYS.get_or_init(|| {
        let mut bytes = [0_u8; 24];
        OsRng.fill_bytes(&mut bytes);
        let mut uuid = [0_u8; 16];
        uuid.copy_from_slice(&bytes[..16]);
        let mut short = [0_u8; 8];
        short.copy_from_slice(&bytes[16..]);
        ProcessKeys {
            uuid: u128::from_le_bytes(uuid),
            short: u64::from_le_bytes(short),
        }
    })
}

/// One request's id, unique within the process; render it with
/// [`Self::to_uuid_string`] (STS/IAM `RequestId`), [`Self::to_s3_request_id`]
/// (S3 `x-amz-request-id`) or [`Self::to_bytes`] (opaque ids such as
/// `x-amz-id-2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UniqueRequestId {
    sequence: u64,
}

impl UniqueRequestId {
    /// The next id of this process: one atomic increment, no syscall (the
    /// first call reads the OS RNG once for the process keys).
    pub fn next() -> Self {
        Self {
            sequence: SEQUENCE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The 128 bits of a version-4, RFC 4122-variant UUID.
    fn uuid_bits(self) -> u128 {
        let free = permute_122(u128::from(self.sequence), process_keys().uuid);
        // Spread the 122 bits around the version nibble (bits 76..80) and
        // the variant bits (62..64): 48 bits, 4, 12 bits, 2, 62 bits.
        let top = (free >> 74) << 80;
        let middle = ((free >> 62) & 0xfff) << 64;
        let bottom = free & ((1 << 62) - 1);
        top | (0x4 << 76) | middle | (0b10 << 62) | bottom
    }

    /// A lowercase hyphenated version-4 UUID, like `uuid::Uuid::new_v4()`
    /// prints: `8-4-4-4-12` hex digits.
    pub fn to_uuid_string(self) -> String {
        // uuid's table-driven encoder: no formatting machinery per request.
        let mut text = [0_u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::from_u128(self.uuid_bits())
            .hyphenated()
            .encode_lower(&mut text)
            .to_owned()
    }

    /// The 16 bytes of the UUID form (big-endian, as a UUID is written).
    pub fn to_bytes(self) -> [u8; 16] {
        self.uuid_bits().to_be_bytes()
    }

    /// 16 uppercase hex digits, the shape of S3's `x-amz-request-id`; unique
    /// within the process for 2^64 ids.
    pub fn to_s3_request_id(self) -> String {
        let mut text = String::with_capacity(16);
        let value = permute_64(self.sequence.wrapping_add(process_keys().short));
        // Writing to a String cannot fail.
        let _ = write!(text, "{value:016X}");
        text
    }
}

/// A keyed bijection of the low 122 bits: xor with the key, then
/// multiplications by odd constants (invertible modulo 2^122) and
/// xor-shifts (invertible), which carry every input bit to every output bit.
fn permute_122(value: u128, key: u128) -> u128 {
    const ODD_A: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
    const ODD_B: u128 = 0xd6e8_feb8_6659_fd93_2545_f491_4f6c_dd1d;
    let mut v = (value ^ key) & UUID_FREE_BITS;
    v = v.wrapping_mul(ODD_A) & UUID_FREE_BITS;
    v ^= v >> 61;
    v = v.wrapping_mul(ODD_B) & UUID_FREE_BITS;
    v ^= v >> 59;
    v = v.wrapping_mul(ODD_A) & UUID_FREE_BITS;
    v ^ (v >> 63)
}

/// The SplitMix64 finaliser: a bijection of `u64` that mixes every bit.
fn permute_64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_v4_uuid(text: &str) -> bool {
        let groups: Vec<&str> = text.split('-').collect();
        groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && groups.iter().all(|g| {
                g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            && groups[2].starts_with('4')
            && groups[3].starts_with(['8', '9', 'a', 'b'])
    }

    #[test]
    fn uuid_form_is_a_lowercase_version_4_uuid() {
        for _ in 0..1000 {
            let id = UniqueRequestId::next().to_uuid_string();
            assert!(is_v4_uuid(&id), "{id}");
        }
    }

    #[test]
    fn s3_form_is_16_uppercase_hex_digits() {
        let id = UniqueRequestId::next().to_s3_request_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "{id}"
        );
    }

    #[test]
    fn bytes_are_the_uuid_form() {
        let id = UniqueRequestId::next();
        let hex = id.to_bytes().iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        assert_eq!(hex, id.to_uuid_string().replace('-', ""));
    }

    #[test]
    fn ids_from_many_threads_never_repeat() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..50_000)
                        .map(|_| {
                            let id = UniqueRequestId::next();
                            (id.to_uuid_string(), id.to_s3_request_id())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut uuids = HashSet::new();
        let mut short = HashSet::new();
        for thread in threads {
            for (uuid, s3) in thread.join().unwrap() {
                assert!(uuids.insert(uuid.clone()), "repeated {uuid}");
                assert!(short.insert(s3.clone()), "repeated {s3}");
            }
        }
        assert_eq!(uuids.len(), 200_000);
    }

    #[test]
    fn consecutive_ids_share_no_visible_prefix() {
        // Sequential counters must not show through as near-identical ids.
        let a = UniqueRequestId { sequence: 1000 }.to_uuid_string();
        let b = UniqueRequestId { sequence: 1001 }.to_uuid_string();
        let same = a.bytes().zip(b.bytes()).filter(|(x, y)| x == y).count();
        // Dashes, the version digit and chance matches; 36 would be equal.
        assert!(same < 16, "{a} vs {b}");
        let c = UniqueRequestId { sequence: 1000 }.to_s3_request_id();
        let d = UniqueRequestId { sequence: 1001 }.to_s3_request_id();
        assert!(c[..4] != d[..4] || c[12..] != d[12..], "{c} vs {d}");
    }

    /// Inverse of `permute_122`, to show it is a bijection (so distinct
    /// counters give distinct ids).
    fn unpermute_122(output: u128, key: u128) -> u128 {
        fn inverse_odd(a: u128) -> u128 {
            // Newton's iteration for the inverse modulo 2^128.
            let mut x = a;
            for _ in 0..7 {
                x = x.wrapping_mul(2_u128.wrapping_sub(a.wrapping_mul(x)));
            }
            x
        }
        fn undo_xorshift(mut y: u128, shift: u32) -> u128 {
            let mut x = y;
            while y != 0 {
                y >>= shift;
                x ^= y;
            }
            x & UUID_FREE_BITS
        }
        const ODD_A: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
        const ODD_B: u128 = 0xd6e8_feb8_6659_fd93_2545_f491_4f6c_dd1d;
        let mut v = undo_xorshift(output, 63);
        v = v.wrapping_mul(inverse_odd(ODD_A)) & UUID_FREE_BITS;
        v = undo_xorshift(v, 59);
        v = v.wrapping_mul(inverse_odd(ODD_B)) & UUID_FREE_BITS;
        v = undo_xorshift(v, 61);
        v = v.wrapping_mul(inverse_odd(ODD_A)) & UUID_FREE_BITS;
        v ^ (key & UUID_FREE_BITS)
    }

    #[test]
    fn the_uuid_permutation_is_invertible() {
        let key = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for value in (0..1000_u128).chain([u128::from(u64::MAX), UUID_FREE_BITS]) {
            assert_eq!(unpermute_122(permute_122(value, key), key), value);
        }
    }
}
