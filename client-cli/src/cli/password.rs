//! Where a password comes from: `--password-stdin`, `$HEARTH_PASSWORD`, or a prompt on the
//! terminal with echo turned off (through `stty`, so no extra crate is needed).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::process::{Command, Stdio};

use crate::cli::error::CliError;

/// The environment variable read for the password.
pub const PASSWORD_ENV: &str = "HEARTH_PASSWORD";

/// How to get the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Ask once (login).
    Once,
    /// Ask twice and compare (register).
    Twice,
}

/// Reads the password from the first source that applies.
pub fn obtain(from_stdin: bool, confirm: Confirm) -> Result<String, CliError> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return non_empty(first_line(&text).to_string());
    }
    if let Some(p) = std::env::var_os(PASSWORD_ENV) {
        let p = p
            .into_string()
            .map_err(|_| CliError::Config(format!("{PASSWORD_ENV} is not UTF-8")))?;
        return non_empty(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Config(format!(
            "no password: use --password-stdin, set {PASSWORD_ENV}, or run in a terminal"
        )));
    }
    let first = prompt("Password: ")?;
    if confirm == Confirm::Twice && prompt("Password again: ")? != first {
        return Err(CliError::Usage("the passwords differ".into()));
    }
    non_empty(first)
}

/// The first line of piped input, without its line ending (the rest is ignored).
fn first_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or("").trim_end_matches('\r')
}

fn non_empty(p: String) -> Result<String, CliError> {
    if p.is_empty() {
        Err(CliError::Usage("empty password".into()))
    } else {
        Ok(p)
    }
}

/// Prompts on `/dev/tty` with echo off; echo is restored even when reading fails.
fn prompt(label: &str) -> Result<String, CliError> {
    let mut tty_out = OpenOptions::new().write(true).open("/dev/tty")?;
    let tty_in = File::open("/dev/tty")?;
    write!(tty_out, "{label}")?;
    tty_out.flush()?;
    let echo_off = set_echo(false);
    let mut line = String::new();
    let read = BufReader::new(tty_in).read_line(&mut line);
    if echo_off {
        set_echo(true);
    }
    writeln!(tty_out)?;
    read?;
    Ok(first_line(&line).to_string())
}

/// Runs `stty echo` / `stty -echo` on the terminal; tells whether it worked.
fn set_echo(on: bool) -> bool {
    let Ok(tty) = File::open("/dev/tty") else {
        return false;
    };
    Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::from(tty))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_strips_endings() {
        assert_eq!(first_line("secret\n"), "secret");
        assert_eq!(first_line("secret\r\nignored\n"), "secret");
        assert_eq!(first_line("with spaces  "), "with spaces  ");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn empty_is_refused() {
        assert!(non_empty(String::new()).is_err());
        assert!(non_empty("x".into()).is_ok());
    }
}
