//! A Postgres connection that waits for `NOTIFY`s without polling.
//!
//! diesel's `PgConnection` can only be asked whether notifications have arrived, so the
//! listener used to ask every 20 ms: another process's commit reached this process's polls
//! 10 ms late on average. This connection is libpq's own (the same bundled libpq diesel links,
//! through `pq-sys`), whose socket can be waited on with `poll(2)`: a notification is read the
//! moment it arrives, and an idle listener costs nothing.
//!
//! The FFI is confined here, behind a safe type: [`Listening::connect`] owns the `PGconn`
//! (freed on drop), [`Listening::wait`] returns the payloads that arrived.

#![allow(unsafe_code)] // FFI to libpq (connect, LISTEN, wait on its socket, read notifies).

use std::ffi::{CStr, CString};
use std::time::Duration;

use pq_sys::{
    ConnStatusType, ExecStatusType, PGconn, PGresult, PQclear, PQconnectdb, PQconsumeInput,
    PQerrorMessage, PQexec, PQfinish, PQfreemem, PQgetisnull, PQgetvalue, PQnfields, PQnotifies,
    PQntuples, PQresultStatus, PQsocket, PQstatus,
};

/// A notification: its channel and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The channel it was sent on.
    pub channel: String,
    /// Its payload (empty when it had none).
    pub payload: String,
}

/// A libpq connection that `LISTEN`s on some channels.
pub struct Listening {
    conn: *mut PGconn,
}

// SAFETY: a `PGconn` may be used from any thread, one thread at a time; `Listening` is not
// `Sync` and every method takes `&mut self`.
unsafe impl Send for Listening {}

impl Drop for Listening {
    fn drop(&mut self) {
        // SAFETY: `conn` came from `PQconnectdb` and is finished exactly once.
        unsafe { PQfinish(self.conn) }
    }
}

impl Listening {
    /// Connects to `url` (a libpq URI or key/value string) and runs `LISTEN` for each of
    /// `channels` (plain identifiers).
    pub fn connect(url: &str, channels: &[&str]) -> Result<Listening, String> {
        if let Some(bad) = channels
            .iter()
            .find(|c| c.is_empty() || !c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(format!("not a plain channel name: {bad}"));
        }
        let url = CString::new(url).map_err(|_| "the database URL holds a NUL byte".to_string())?;
        // SAFETY: `url` is a valid C string for the duration of the call; libpq returns a
        // connection object (possibly a failed one) or null when out of memory.
        let conn = unsafe { PQconnectdb(url.as_ptr()) };
        if conn.is_null() {
            return Err("libpq could not allocate a connection".into());
        }
        let listening = Listening { conn };
        // SAFETY: `conn` is a live connection object.
        if unsafe { PQstatus(listening.conn) } != ConnStatusType::CONNECTION_OK {
            return Err(listening.error());
        }
        for channel in channels {
            listening.exec(&format!("LISTEN {channel}"))?;
        }
        Ok(listening)
    }

    /// Runs `sql` (statements that return no rows; with several, the last one's status counts).
    pub fn exec(&self, sql: &str) -> Result<(), String> {
        self.run(sql, |result| {
            // SAFETY: `result` is a live result (see `run`).
            if unsafe { PQresultStatus(result) } == ExecStatusType::PGRES_COMMAND_OK {
                Ok(())
            } else {
                Err(self.error())
            }
        })
    }

    /// Runs `sql`, a query of one number (`SELECT count(*) …`), and returns it.
    pub fn number(&self, sql: &str) -> Result<i64, String> {
        self.run(sql, |result| {
            // SAFETY: `result` is a live result (see `run`); row 0, column 0 is read only when
            // the result has them, and its text (NUL-terminated, owned by `result`) is copied
            // before `run` clears it.
            unsafe {
                if PQresultStatus(result) != ExecStatusType::PGRES_TUPLES_OK {
                    return Err(self.error());
                }
                if PQntuples(result) < 1 || PQnfields(result) < 1 || PQgetisnull(result, 0, 0) != 0
                {
                    return Err("the query returned no number".to_string());
                }
                let text = CStr::from_ptr(PQgetvalue(result, 0, 0)).to_string_lossy();
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("not a number: {text}"))
            }
        })
    }

    /// Runs `sql` with `PQexec` and hands its result to `read`, which must not keep it: the
    /// result is cleared (exactly once) when `read` returns.
    fn run<T>(
        &self,
        sql: &str,
        read: impl FnOnce(*mut PGresult) -> Result<T, String>,
    ) -> Result<T, String> {
        let sql = CString::new(sql).map_err(|_| "a NUL byte in SQL".to_string())?;
        // SAFETY: `conn` is live and `sql` a valid C string.
        let result = unsafe { PQexec(self.conn, sql.as_ptr()) };
        if result.is_null() {
            return Err(self.error());
        }
        let read = read(result);
        // SAFETY: `result` is non-null, owned here, and no longer used.
        unsafe { PQclear(result) };
        read
    }

    /// libpq's last error message for this connection.
    fn error(&self) -> String {
        // SAFETY: libpq returns a NUL-terminated string owned by the connection (never null
        // for a non-null connection), valid until the next call on it; copied at once.
        let message = unsafe { CStr::from_ptr(PQerrorMessage(self.conn)) };
        message.to_string_lossy().trim().to_string()
    }

    /// Waits up to `timeout` for notifications; returns them (none when none came). An error
    /// means the connection is lost.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<Note>, String> {
        let mut payloads = self.take()?;
        if !payloads.is_empty() {
            return Ok(payloads);
        }
        // SAFETY: `conn` is live.
        let socket = unsafe { PQsocket(self.conn) };
        if socket < 0 {
            return Err("the listener's connection has no socket".into());
        }
        let mut fd = libc::pollfd {
            fd: socket,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid `pollfd`, count 1.
        let ready = unsafe { libc::poll(&mut fd, 1, millis) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(Vec::new());
            }
            return Err(format!("poll: {e}"));
        }
        if ready > 0 {
            payloads = self.take()?;
        }
        Ok(payloads)
    }

    /// Reads what the socket holds and returns the notifications received.
    fn take(&mut self) -> Result<Vec<Note>, String> {
        // SAFETY: `conn` is live; 0 means the connection failed.
        if unsafe { PQconsumeInput(self.conn) } == 0 {
            return Err(self.error());
        }
        let mut payloads = Vec::new();
        loop {
            // SAFETY: `conn` is live; a non-null notify is ours to free with `PQfreemem`.
            let note = unsafe { PQnotifies(self.conn) };
            if note.is_null() {
                break;
            }
            // SAFETY: `note` is a valid `PGnotify` whose `relname` and `extra` are
            // NUL-terminated strings (`extra` empty when the NOTIFY had no payload); both are
            // copied before the notify is freed.
            let received = unsafe {
                let text = |s: *mut std::os::raw::c_char| {
                    if s.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(s).to_string_lossy().into_owned()
                    }
                };
                let received = Note {
                    channel: text((*note).relname),
                    payload: text((*note).extra),
                };
                PQfreemem(note.cast());
                received
            };
            payloads.push(received);
        }
        // SAFETY: `conn` is live.
        if unsafe { PQstatus(self.conn) } != ConnStatusType::CONNECTION_OK {
            return Err(self.error());
        }
        Ok(payloads)
    }
}
