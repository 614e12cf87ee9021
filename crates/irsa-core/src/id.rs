use rand::RngCore;

use crate::SecretString;

/// The 4-letter prefixes of IAM unique ids.
///
/// Access key ids are 20 characters (prefix + 16, e.g. `AKIAIOSFODNN7EXAMPLE`);
/// the unique ids of users, roles, groups, managed policies and instance
/// profiles are 21 (prefix + 17, e.g. `AIDAJQABLZS4A3QDU576Q`), as IAM
/// issues them. Clients and policies compare them whole, so the length is
/// part of the contract.
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
    InstanceProfile,
}

/// Random characters after the prefix of an access key id.
const ACCESS_KEY_RANDOM_LEN: usize = 16;
/// Random characters after the prefix of an entity's unique id.
const UNIQUE_ID_RANDOM_LEN: usize = 17;
const PREFIX_LEN: usize = 4;

impl IdPrefix {
    pub const ALL: [IdPrefix; 7] = [
        IdPrefix::AccessKey,
        IdPrefix::TemporaryAccessKey,
        IdPrefix::Role,
        IdPrefix::User,
        IdPrefix::ManagedPolicy,
        IdPrefix::Group,
        IdPrefix::InstanceProfile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdPrefix::AccessKey => "AKIA",
            IdPrefix::TemporaryAccessKey => "ASIA",
            IdPrefix::Role => "AROA",
            IdPrefix::User => "AIDA",
            IdPrefix::ManagedPolicy => "ANPA",
            IdPrefix::Group => "AGPA",
            IdPrefix::InstanceProfile => "AIPA",
        }
    }

    /// The full length of an id with this prefix: 20 for access key ids,
    /// 21 for the unique ids of entities.
    pub fn id_len(self) -> usize {
        PREFIX_LEN
            + match self {
                IdPrefix::AccessKey | IdPrefix::TemporaryAccessKey => ACCESS_KEY_RANDOM_LEN,
                IdPrefix::Role
                | IdPrefix::User
                | IdPrefix::ManagedPolicy
                | IdPrefix::Group
                | IdPrefix::InstanceProfile => UNIQUE_ID_RANDOM_LEN,
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

/// `N` characters of `alphabet` from the thread's CSPRNG (`thread_rng`:
/// ChaCha, seeded and periodically reseeded from the OS), so minting the
/// ids and keys of every AssumeRole* costs no syscall. The alphabet length
/// divides 256, so masking a byte picks each character uniformly.
fn random_chars<const N: usize>(alphabet: &[u8]) -> impl Iterator<Item = char> + '_ {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = [0_u8; N];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mask = alphabet.len() - 1;
    bytes
        .into_iter()
        .map(move |b| char::from(alphabet[usize::from(b) & mask]))
}

/// A fresh id: the prefix and random chars of `A-Z2-7`, 20 in all
/// for access key ids and 21 for entity ids (see [`IdPrefix::id_len`]).
pub fn generate_id(prefix: IdPrefix) -> String {
    let mut id = String::with_capacity(prefix.id_len());
    id.push_str(prefix.as_str());
    if prefix.id_len() - PREFIX_LEN == ACCESS_KEY_RANDOM_LEN {
        id.extend(random_chars::<ACCESS_KEY_RANDOM_LEN>(BASE32_UPPER));
    } else {
        id.extend(random_chars::<UNIQUE_ID_RANDOM_LEN>(BASE32_UPPER));
    }
    id
}

/// Whether `id` has the shape `generate_id(prefix)` produces.
pub fn is_valid_id(prefix: IdPrefix, id: &str) -> bool {
    id.len() == prefix.id_len()
        && id.starts_with(prefix.as_str())
        && id.as_bytes()[PREFIX_LEN..]
            .iter()
            .all(|b| BASE32_UPPER.contains(b))
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
            assert_eq!(id.len(), prefix.id_len(), "{id}");
            assert_eq!(IdPrefix::of(&id), Some(prefix));
        }
        assert!(!is_valid_id(IdPrefix::Role, "AROA11111111111111111"));
        assert!(!is_valid_id(IdPrefix::Role, "AIDAAAAAAAAAAAAAAAAAA"));
        assert!(!is_valid_id(IdPrefix::Role, "AROAAAAA"));
    }

    /// IAM's lengths: access key ids 20 (`AKIAIOSFODNN7EXAMPLE`), entity
    /// ids 21 (`AIDAJQABLZS4A3QDU576Q`, `AROADBQP57FF2AEXAMPLE`).
    #[test]
    fn ids_have_iam_lengths() {
        for (prefix, len) in [
            (IdPrefix::AccessKey, 20),
            (IdPrefix::TemporaryAccessKey, 20),
            (IdPrefix::User, 21),
            (IdPrefix::Role, 21),
            (IdPrefix::ManagedPolicy, 21),
            (IdPrefix::Group, 21),
            (IdPrefix::InstanceProfile, 21),
        ] {
            assert_eq!(generate_id(prefix).len(), len, "{prefix:?}");
        }
        assert!(is_valid_id(IdPrefix::AccessKey, "AKIAIOSFODNN7EXAMPLE"));
        assert!(is_valid_id(IdPrefix::User, "AIDAJQABLZS4A3QDU576Q"));
        assert!(is_valid_id(IdPrefix::Role, "AROADBQP57FF2AEXAMPLE"));
        assert!(is_valid_id(
            IdPrefix::InstanceProfile,
            "AIPAJQABLZS4A3QDU576Q"
        ));
        // An entity id of access-key length, and an access key of entity length.
        assert!(!is_valid_id(IdPrefix::User, "AIDAIOSFODNN7EXAMPLE"));
        assert!(!is_valid_id(IdPrefix::AccessKey, "AKIAIOSFODNN7EXAMPLEA"));
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
