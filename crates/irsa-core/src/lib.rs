//! Core types shared by every irsa crate: account ids, ARNs, IAM entity ids,
//! the clock abstraction and secret newtypes. No I/O beyond the OS RNG.

mod account;
mod arn;
pub mod bytes;
mod clock;
mod id;
mod request_id;
mod secret;

pub use account::{AccountId, InvalidAccountId};
pub use arn::{Arn, ArnError};
pub use clock::{write_utc_timestamp, Clock, SharedClock, SystemClock, TestClock};
pub use id::{generate_id, generate_secret_access_key, is_valid_id, IdPrefix};
pub use request_id::UniqueRequestId;
pub use secret::{SecretBytes, SecretString};
