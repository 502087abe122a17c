//! Password hashing in bounded concurrency.
//!
//! An argon2id hash (the crate's defaults: 19 MiB, 2 passes) costs its memory and a core for
//! its whole run, so hashes never run more than one per core at once: a semaphore of
//! `available_parallelism` permits, taken **before** the blocking task is spawned, and moved
//! into it (a client that hangs up does not free a permit while its hash still runs). At most
//! [`WAITERS_PER_PERMIT`] requests per permit wait for one; any more are refused at once with
//! `503 server_busy` and `Retry-After: 1`, so a flood of logins costs bounded memory and
//! bounded latency instead of a queue that grows with the flood. (`RATE_LIMIT_LOGIN` limits
//! each address; this bounds all of them together.)
//!
//! A login for a nick that does not exist verifies the password against a fixed hash made once
//! at start-up with the same parameters: one hash per login either way, so the answer's timing
//! does not tell whether a nick exists.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Requests that may wait for a hashing slot, per slot.
pub const WAITERS_PER_PERMIT: usize = 16;

/// The hashing gate: permits, the waiting count and the stand-in hash.
pub struct Hashing {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Requests refused with `503 server_busy` so far.
    refused: AtomicUsize,
    /// The PHC string of a random password nobody knows, for unknown nicks.
    dummy: Arc<str>,
    /// How many permits there are.
    total: usize,
    /// A heap trim is due once the hashes are over ([`crate::memory`]).
    trim_pending: Arc<AtomicBool>,
}

/// Takes one off the waiting count when a waiter is done (served, refused or dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hashing {
    /// One permit per core. Hashes the stand-in password (once).
    pub fn new() -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_permits(cores)
    }

    /// `permits` hashes at once (at least 1).
    pub fn with_permits(permits: usize) -> Result<Self, String> {
        let permits = permits.max(1);
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        let dummy = Argon2::default()
            .hash_password(&secret)
            .map_err(|e| e.to_string())?
            .to_string();
        Ok(Hashing {
            permits: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            max_waiting: permits.saturating_mul(WAITERS_PER_PERMIT),
            refused: AtomicUsize::new(0),
            dummy: dummy.into(),
            total: permits,
            trim_pending: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs `work` on the blocking pool once a permit is free, or refuses at once when too
    /// many requests wait already.
    async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _waiting = Waiting(&self.waiting);
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    if self
                        .refused
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(100)
                    {
                        tracing::warn!("password hashing saturated; refusing logins");
                    }
                    return Err(ApiError::busy(
                        "too many logins in progress; try again shortly",
                        Duration::from_secs(1),
                    ));
                }
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(ApiError::internal)?
            }
        };
        let done = actix_web::web::block(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ApiError::internal);
        self.trim_when_idle();
        done
    }

    /// After the last hash of a burst (logins, registrations): once no hash has run for
    /// [`crate::memory::TRIM_AFTER`], gives the heap the burst freed back to the system.
    fn trim_when_idle(&self) {
        let idle = |permits: &Semaphore, total: usize| permits.available_permits() == total;
        if !idle(&self.permits, self.total) || self.trim_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.trim_pending.store(false, Ordering::Release);
            return;
        };
        let permits = Arc::clone(&self.permits);
        let total = self.total;
        let pending = Arc::clone(&self.trim_pending);
        runtime.spawn(async move {
            tokio::time::sleep(crate::memory::TRIM_AFTER).await;
            pending.store(false, Ordering::Release);
            // Hashes running again: the end of that burst trims.
            if idle(&permits, total) {
                let trimmed = tokio::task::spawn_blocking(crate::memory::trim).await;
                tracing::debug!(ok = trimmed.is_ok(), "heap trimmed after password hashes");
            }
        });
    }

    /// The PHC string of a new argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(ApiError::internal)
    }

    /// Whether `password` matches `stored`. Without a stored hash (an unknown nick) the
    /// password is checked against the stand-in hash, at the same cost, and never matches.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let known = stored.is_some();
        let dummy = Arc::clone(&self.dummy);
        let matches = self
            .run(move || {
                let phc = stored.as_deref().unwrap_or(&dummy);
                let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
                Ok::<bool, String>(
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok(),
                )
            })
            .await?
            .map_err(ApiError::internal)?;
        Ok(known && matches)
    }

    /// Prometheus text: waiting requests and refusals.
    pub fn render(&self) -> String {
        format!(
            "# HELP hearth_password_hash_waiting Logins and registrations waiting for a hashing slot.\n\
             # TYPE hearth_password_hash_waiting gauge\n\
             hearth_password_hash_waiting {}\n\
             # HELP hearth_password_hash_busy_total Logins and registrations refused with 503 server_busy.\n\
             # TYPE hearth_password_hash_busy_total counter\n\
             hearth_password_hash_busy_total {}\n",
            self.waiting(),
            self.refused.load(Ordering::Relaxed)
        )
    }

    /// Requests waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn hashes_verify_and_unknown_nicks_never_match() {
        let hashing = Hashing::with_permits(1).expect("hashing");
        let phc = hashing.hash("hunter22".to_string()).await.expect("hash");
        assert!(hashing
            .verify("hunter22".to_string(), Some(phc.clone()))
            .await
            .expect("verify"));
        assert!(!hashing
            .verify("hunter23".to_string(), Some(phc))
            .await
            .expect("verify"));
        assert!(!hashing
            .verify("hunter22".to_string(), None)
            .await
            .expect("verify"));
        assert_eq!(hashing.waiting(), 0);
    }

    #[actix_web::test]
    async fn waiters_beyond_the_bound_are_refused_at_once() {
        let hashing = Arc::new(Hashing::with_permits(1).expect("hashing"));
        // Hold the only permit, fill the queue, and one more is refused.
        let held = Arc::clone(&hashing.permits)
            .try_acquire_owned()
            .expect("free permit");
        let mut queued = Vec::new();
        for _ in 0..WAITERS_PER_PERMIT {
            let h = Arc::clone(&hashing);
            queued.push(actix_web::rt::spawn(async move {
                h.hash("password1".to_string()).await
            }));
        }
        while hashing.waiting() < WAITERS_PER_PERMIT {
            tokio::task::yield_now().await;
        }
        let refused = hashing
            .hash("password1".to_string())
            .await
            .expect_err("over the bound");
        assert_eq!(refused.status.as_u16(), 503);
        assert_eq!(refused.retry_after, Some(1));
        assert!(hashing
            .render()
            .contains("hearth_password_hash_busy_total 1"));
        drop(held);
        for task in queued {
            assert!(task.await.expect("task").is_ok());
        }
        assert_eq!(hashing.waiting(), 0);
    }
}
