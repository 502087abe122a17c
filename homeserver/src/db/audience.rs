//! Whether anyone but this process may hear its `NOTIFY`s (Postgres).
//!
//! After each flush the flusher tells the other processes sharing the database up to where the
//! log is on disk (`NOTIFY hearth_events`, [`super::flusher`]). That costs a transaction per
//! batch, and wakes this process's own listener, which ignores it. A process alone on its
//! database pays it for nobody: about 4–5 % of its sends/s at 16 senders on two cores
//! (BENCHMARKS.md, "Postgres, thirteenth round").
//!
//! So every connection of this process carries its own `application_name` ([`tagged`]), and
//! the listener looks every second whether any *other* client session is connected to the
//! database (`pg_stat_activity`: another homeserver of any version, or any tool). Only while
//! none is do the flushes leave their `NOTIFY` out. Nothing a process that arrives later needs
//! is missed:
//! - A process announces itself on [`PROCESSES_CHANNEL`] right after its `LISTEN`s. The
//!   listener of a process that hears it (or whose check finds a new session) notifies again
//!   from then on, and at once sends the highest `seq` a flush confirmed without notifying
//!   ([`Audience::others_appeared`]).
//! - A flush that began without a `NOTIFY` and ends after that records its `seq` *before* it
//!   looks whether someone appeared, and the listener marks the appearance *before* it reads
//!   that `seq` ([`Audience::confirmed_quietly`]): one of the two always sees the other, so
//!   either the flush notifies itself or the listener's catch-up covers it.
//!
//! A process whose URL sets `application_name` itself cannot tell its sessions from others,
//! and always notifies, as does a process that does not listen (a command-line tool).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// The channel on which a process announces itself to the others, right after its `LISTEN`s.
pub const PROCESSES_CHANNEL: &str = "hearth_processes";

/// How often the listener looks for other sessions.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Whether this process's notifications may be heard by another session.
#[derive(Debug)]
pub struct Audience {
    /// The `application_name` of this process's connections, when the URL left it to us.
    tag: Option<String>,
    /// Another session may listen: flushes notify. True until a check finds nobody.
    others: AtomicBool,
    /// The highest `seq` a flush confirmed without notifying it (0: none).
    quiet_through: AtomicI64,
}

impl Audience {
    /// An audience for connections tagged `tag` (`None`: they could not be tagged, so this
    /// process always notifies).
    pub fn new(tag: Option<String>) -> Audience {
        Audience {
            tag,
            others: AtomicBool::new(true),
            quiet_through: AtomicI64::new(0),
        }
    }

    /// Whether a flush sends its `NOTIFY`.
    pub fn heard(&self) -> bool {
        self.others.load(Ordering::SeqCst)
    }

    /// A flush built without a `NOTIFY` confirmed events up to `seq`. Returns whether another
    /// session may listen by now, in which case the flush notifies after all.
    pub fn confirmed_quietly(&self, seq: i64) -> bool {
        self.quiet_through.fetch_max(seq, Ordering::SeqCst);
        self.others.load(Ordering::SeqCst)
    }

    /// Another session may listen from now on. Returns `None` when flushes were notifying
    /// already; after a quiet spell, `Some` of the highest `seq` confirmed without a
    /// notification (if any), for the caller to announce now.
    pub fn others_appeared(&self) -> Option<Option<i64>> {
        if self.others.swap(true, Ordering::SeqCst) {
            return None;
        }
        let seq = self.quiet_through.load(Ordering::SeqCst);
        Some((seq > 0).then_some(seq))
    }

    /// A check found no other session: flushes stop notifying (unless this process's
    /// sessions could not be told apart). Returns whether this changed anything.
    pub fn alone(&self) -> bool {
        self.tag.is_some() && self.others.swap(false, Ordering::SeqCst)
    }

    /// The statement that counts the client sessions on this database that are not this
    /// process's (`None` when they cannot be told apart).
    ///
    /// A role that is not a superuser, not a member of `pg_read_all_stats` and not a member of
    /// the other session's role sees that session's `application_name` but not its
    /// `backend_type` (Postgres shows `NULL`). Such a row counts as another session: a second
    /// homeserver that connects with another role must not be taken for nobody. (A hidden
    /// row may also be an autovacuum worker of this database; counting it only costs a
    /// notification while it runs.)
    pub fn others_sql(&self) -> Option<String> {
        self.tag.as_ref().map(|tag| {
            format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND (backend_type = 'client backend' OR backend_type IS NULL) \
                 AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM '{tag}'"
            )
        })
    }
}

/// `url` (a `postgres://` URI) with `application_name` set to this process's tag, and the tag;
/// the URL unchanged and no tag when it names an `application_name` itself.
pub fn tagged(url: &str, instance: u64) -> (String, Option<String>) {
    if url.contains("application_name=") {
        return (url.to_string(), None);
    }
    let tag = format!("hearth-{instance:016x}");
    let separator = match url.find('?') {
        None => "?",
        Some(_) if url.ends_with('?') || url.ends_with('&') => "",
        Some(_) => "&",
    };
    (format!("{url}{separator}application_name={tag}"), Some(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_tag_unless_they_name_one() {
        let (url, tag) = tagged("postgres://h@db/hearth", 0xab);
        assert_eq!(tag.as_deref(), Some("hearth-00000000000000ab"));
        assert_eq!(
            url,
            "postgres://h@db/hearth?application_name=hearth-00000000000000ab"
        );
        let (url, _) = tagged("postgres://h@db/hearth?sslmode=require", 1);
        assert_eq!(
            url,
            "postgres://h@db/hearth?sslmode=require&application_name=hearth-0000000000000001"
        );
        let (url, _) = tagged("postgresql://db/h?", 1);
        assert_eq!(
            url,
            "postgresql://db/h?application_name=hearth-0000000000000001"
        );
        let (url, tag) = tagged("postgres://db/h?application_name=mine", 1);
        assert_eq!(
            (url.as_str(), tag),
            ("postgres://db/h?application_name=mine", None)
        );
    }

    #[test]
    fn a_quiet_flush_or_the_appearance_announces_every_seq() {
        let audience = Audience::new(Some("t".into()));
        assert!(audience.heard(), "notifies until a check finds nobody");
        assert!(audience.alone());
        assert!(!audience.heard());
        // Quiet: nobody to tell.
        assert!(!audience.confirmed_quietly(10));
        assert!(!audience.confirmed_quietly(7));
        // Someone appears: what went unannounced is announced once.
        assert_eq!(audience.others_appeared(), Some(Some(10)));
        assert_eq!(audience.others_appeared(), None);
        assert!(audience.heard());
        // A flush built quietly that ends now notifies itself.
        assert!(audience.confirmed_quietly(12));
        let sql = audience.others_sql().expect("tagged");
        assert!(sql.contains("IS DISTINCT FROM 't'"), "{sql}");
        assert!(sql.contains("backend_type IS NULL"), "{sql}");
    }

    #[test]
    fn a_quiet_spell_that_flushed_nothing_announces_nothing() {
        let audience = Audience::new(Some("t".into()));
        assert!(audience.alone());
        assert_eq!(audience.others_appeared(), Some(None));
        assert_eq!(audience.others_appeared(), None);
    }

    #[test]
    fn untagged_connections_always_notify() {
        let audience = Audience::new(None);
        assert!(!audience.alone());
        assert!(audience.heard());
        assert_eq!(audience.others_sql(), None);
    }
}
