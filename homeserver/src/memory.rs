//! Giving freed heap memory back to the system.
//!
//! glibc keeps what the program frees in its arenas (one per thread that allocates, up to
//! eight per core) and returns only the free space at the top of each. A burst of logins
//! leaves free space all through them: each login's database work and temporaries run on a
//! blocking thread, between allocations that stay (sessions, cache pages). The server calls
//! [`trim`] once such a burst is over ([`crate::services::passwords`]: no password hash has run
//! for [`TRIM_AFTER`]), so the burst's garbage does not stay resident for the life of the
//! process. `malloc_trim(0)` walks every arena once and releases their free pages; it takes
//! milliseconds for a heap of a few hundred MB and runs on the blocking pool.

use std::time::Duration;

/// How long after the last password hash of a burst the heap is trimmed.
pub const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Releases the free pages of every allocator arena to the system (glibc; nothing elsewhere).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // FFI to glibc's malloc_trim, which only releases free pages.
pub fn trim() {
    // SAFETY: malloc_trim takes the arenas' locks itself and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Releases the free pages of every allocator arena to the system (glibc; nothing elsewhere).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}
