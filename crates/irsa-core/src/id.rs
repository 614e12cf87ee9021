use rand::rngs::OsRng;
use rand::RngCore;

use crate::SecretString;

/// The 4-letter prefixes of IAM unique ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdPrefix {
    /// Long-term access key id.
    AccessKey,
    /// Temporary (STS) access key id.
    TemporaryAccessKey,
    Role,
    User,
    ManagedPolicy,
    Group,
}

impl IdPrefix {
    pub const ALL: [IdPrefix; 6] = [
        IdPrefix::AccessKey,
        IdPrefix::TemporaryAccessKey,
        IdPrefix::Role,
        IdPrefix::User,
        IdPrefix::ManagedPolicy,
        IdPrefix::Group,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdPrefix::AccessKey => "AKIA",
            IdPrefix::TemporaryAccessKey => "ASIA",
            IdPrefix::Role => "AROA",
            IdPrefix::User => "AIDA",
            IdPrefix::ManagedPolicy => "ANPA",
            IdPrefix::Group => "AGPA",
        }
    }

    /// The prefix an id starts with, if it is one of ours.
    pub fn of(id: &str) -> Option<IdPrefix> {
        Self::ALL.into_iter().find(|p| id.starts_with(p.as_str()))
    }
}

const BASE32_UPPER: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `N` characters of `alphabet` from one read of the OS RNG. The alphabet
/// length divides 256, so masking a byte picks each character uniformly;
/// one read per value, not one per character (each read is a syscall, and
/// ids and keys are minted on every AssumeRole*).
fn random_chars<const N: usize>(alphabet: &[u8]) -> impl Iterator<Item = char> + '_ {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = [0_u8; N];
    OsRng.fill_bytes(&mut bytes);
    let mask = alphabet.len() - 1;
    bytes
        .into_iter()
        .map(move |b| char::from(alphabet[usize::from(b) & mask]))
}

/// A fresh 20-character id: prefix + 16 chars of `A-Z2-7` from the OS RNG.
pub fn generate_id(prefix: IdPrefix) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix.as_str());
    id.extend(random_chars::<16>(BASE32_UPPER));
    id
}

/// Whether `id` has the shape `generate_id(prefix)` produces.
pub fn is_valid_id(prefix: IdPrefix, id: &str) -> bool {
    id.len() == 20
        && id.starts_with(prefix.as_str())
        && id.as_bytes()[4..].iter().all(|b| BASE32_UPPER.contains(b))
}

/// A fresh 40-character secret access key (base64 alphabet, like AWS's).
pub fn generate_secret_access_key() -> SecretString {
    SecretString::new(random_chars::<40>(SECRET_ALPHABET).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_have_prefix_and_alphabet() {
        for prefix in IdPrefix::ALL {
            let id = generate_id(prefix);
            assert!(is_valid_id(prefix, &id), "{id}");
            assert_eq!(IdPrefix::of(&id), Some(prefix));
        }
        assert!(!is_valid_id(IdPrefix::Role, "AROA1111111111111111"));
        assert!(!is_valid_id(IdPrefix::Role, "AIDAAAAAAAAAAAAAAAAA"));
        assert!(!is_valid_id(IdPrefix::Role, "AROAAAAA"));
    }

    #[test]
    fn ids_are_unique() {
        let ids: HashSet<String> = (0..10_000)
            .map(|_| generate_id(IdPrefix::AccessKey))
            .collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn secret_keys_are_forty_chars() {
        let secret = generate_secret_access_key();
        assert_eq!(secret.expose().len(), 40);
        assert_ne!(secret.expose(), generate_secret_access_key().expose());
    }

    #[test]
    fn every_character_of_each_alphabet_is_used() {
        let secrets: HashSet<char> = (0..200)
            .flat_map(|_| {
                generate_secret_access_key()
                    .expose()
                    .chars()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(secrets.len(), SECRET_ALPHABET.len());
        let ids: HashSet<char> = (0..200)
            .flat_map(|_| {
                generate_id(IdPrefix::Role)
                    .chars()
                    .skip(4)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ids.len(), BASE32_UPPER.len());
    }
}
