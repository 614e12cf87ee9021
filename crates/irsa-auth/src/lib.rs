//! The one authentication and authorization core of irsa, shared by every
//! front (the STS/IAM Query API, the S3 gateway): nothing here knows a
//! wire protocol.
//!
//! - [`Authenticator`]: SigV4 request → verified [`Caller`] (root, user,
//!   role session, user session), long-term keys from the store (cached),
//!   temporary keys from sealed [`session_token`]s (no store read).
//! - [`Authorizer`]: `(caller, action, resource, context, resource policy)`
//!   → [`Verdict`], the AccessDenied wording built once in [`Denial`].
//!
//! - [`issuer_keys`]: the built-in issuer's signing key rings (current
//!   key, rotation, upkeep, the published set); [`session_keys`] does the
//!   same for the session-token sealing keys.
//!
//! Errors stay typed ([`AuthError`]); each front maps them to its own wire
//! codes at its edge.

mod authenticate;
mod authorize;
mod caller;
mod denial;
mod error;
pub mod issuer_keys;
pub mod managed;
pub mod session_keys;
pub mod session_token;
#[cfg(test)]
mod test_support;

pub use authenticate::{Authenticated, Authenticator, KEY_CACHE_TTL};
pub use authorize::{
    Authorizer, Check, ConditionKeys, PrincipalPolicies, RequestFacts, ResourcePolicy, Verdict,
    ANONYMOUS_PRINCIPAL, POLICY_CACHE_TTL,
};
pub use caller::{Caller, CallerKind, Subject};
pub use denial::{Denial, DenialReason, PolicyKind};
pub use error::AuthError;
pub use session_keys::{SessionKeyUpkeep, SessionKeys, SESSION_TOKEN_KEY_PURPOSE};
pub use session_token::{
    KeyRing, SessionClaims, SessionKey, SessionPrincipal, SessionTag, SessionTokenError,
};
