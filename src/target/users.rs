//! The users a run creates for its scenarios, and the trait of whatever creates them (the
//! target's registration method, or a test stub).

use std::future::Future;
use std::pin::Pin;

/// A user created for one scenario.
#[derive(Clone)]
pub struct UserInfo {
    /// `@localpart:server`.
    pub user_id: String,
    /// Localpart.
    pub localpart: String,
    /// Password (secret).
    pub password: String,
    /// Access token (secret).
    pub access_token: String,
    /// Device ID.
    pub device_id: String,
}

impl std::fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfo")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// A boxed future, for the provisioning trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Creates users for scenarios (by the target's registration method).
pub trait Provision: Send + Sync {
    /// Create a user; the error says why, in one line.
    fn create_user<'a>(
        &'a self,
        localpart: &'a str,
        password: &'a str,
        admin: bool,
    ) -> BoxFuture<'a, Result<UserInfo, String>>;
}
