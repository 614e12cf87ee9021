use std::fmt;

/// The kinds of things the store keeps, for error messages and mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    User,
    AccessKey,
    Role,
    Policy,
    PolicyVersion,
    UserPolicy,
    RolePolicy,
    Attachment,
    OidcProvider,
    ServerKey,
}

impl Entity {
    /// How AWS messages name the entity ("The user with name X cannot be found.").
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::AccessKey => "access key",
            Entity::Role => "role",
            Entity::Policy => "policy",
            Entity::PolicyVersion => "policy version",
            Entity::UserPolicy => "user policy",
            Entity::RolePolicy => "role policy",
            Entity::Attachment => "policy attachment",
            Entity::OidcProvider => "OpenIDConnect provider",
            Entity::ServerKey => "server key",
        }
    }

    /// Capitalised form for the start of a sentence.
    fn capitalised(self) -> &'static str {
        match self {
            Entity::User => "User",
            Entity::AccessKey => "Access key",
            Entity::Role => "Role",
            Entity::Policy => "Policy",
            Entity::PolicyVersion => "Policy version",
            Entity::UserPolicy => "User policy",
            Entity::RolePolicy => "Role policy",
            Entity::Attachment => "Policy attachment",
            Entity::OidcProvider => "OpenIDConnect provider",
            Entity::ServerKey => "Server key",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in the store. Variants map onto AWS error
/// codes in the API layer; messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// → `EntityAlreadyExists` (409).
    #[error("{} with name {name} already exists.", entity.capitalised())]
    AlreadyExists { entity: Entity, name: String },
    /// → `NoSuchEntity` (404).
    #[error("The {entity} with name {name} cannot be found.")]
    NotFound { entity: Entity, name: String },
    /// → `LimitExceeded` (409).
    #[error("{message}")]
    LimitExceeded { entity: Entity, message: String },
    /// → `DeleteConflict` (409).
    #[error("{message}")]
    DeleteConflict { entity: Entity, message: String },
    /// A request the store cannot honour as given (→ `InvalidInput` 400).
    #[error("{0}")]
    InvalidInput(String),
    /// The database cannot be reached (→ `ServiceFailure` 500 / not ready).
    #[error("{0}")]
    Unavailable(String),
    /// Any other database failure (→ `ServiceFailure` 500).
    #[error("{0}")]
    Backend(String),
    /// The master key is wrong, missing or the sealed data is corrupted.
    #[error("{0}")]
    Crypto(String),
    /// Bad configuration given to [`crate::open`] or the master-key loader.
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn not_found(entity: Entity, name: impl Into<String>) -> Self {
        StoreError::NotFound {
            entity,
            name: name.into(),
        }
    }

    pub(crate) fn exists(entity: Entity, name: impl Into<String>) -> Self {
        StoreError::AlreadyExists {
            entity,
            name: name.into(),
        }
    }

    /// The AWS error code the API layer should answer with.
    pub fn aws_code(&self) -> &'static str {
        match self {
            StoreError::AlreadyExists { .. } => "EntityAlreadyExists",
            StoreError::NotFound { .. } => "NoSuchEntity",
            StoreError::LimitExceeded { .. } => "LimitExceeded",
            StoreError::DeleteConflict { .. } => "DeleteConflict",
            StoreError::InvalidInput(_) => "InvalidInput",
            StoreError::Unavailable(_)
            | StoreError::Backend(_)
            | StoreError::Crypto(_)
            | StoreError::Config(_) => "ServiceFailure",
        }
    }

    /// The HTTP status matching [`StoreError::aws_code`].
    pub fn http_status(&self) -> u16 {
        match self {
            StoreError::NotFound { .. } => 404,
            StoreError::AlreadyExists { .. }
            | StoreError::LimitExceeded { .. }
            | StoreError::DeleteConflict { .. } => 409,
            StoreError::InvalidInput(_) => 400,
            StoreError::Unavailable(_)
            | StoreError::Backend(_)
            | StoreError::Crypto(_)
            | StoreError::Config(_) => 500,
        }
    }
}

/// Classifies a sqlx error. Unique violations that slip past our own checks
/// become `Backend` here; callers that expect them map them to
/// `AlreadyExists` themselves via [`is_unique_violation`].
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable(format!("database unavailable: {e}"))
            }
            _ => StoreError::Backend(format!("database error: {e}")),
        }
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
