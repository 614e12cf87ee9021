use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 12-digit AWS account id, e.g. `123456789012`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account id must be exactly 12 digits, got {0:?}")]
pub struct InvalidAccountId(pub String);

impl AccountId {
    /// The account irsa uses when none is configured.
    pub const DEFAULT: &'static str = "123456789012";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl FromStr for AccountId {
    type Err = InvalidAccountId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidAccountId(s.to_owned()))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_twelve_digits_only() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        assert!("000000000000".parse::<AccountId>().is_ok());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            " 23456789012",
            "１23456789012",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn default_is_documented_account() {
        assert_eq!(AccountId::default().as_str(), "123456789012");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<AccountId>("\"123\"").is_err());
        let id: AccountId = serde_json::from_str("\"123456789012\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"123456789012\"");
    }
}
