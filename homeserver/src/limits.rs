//! Rate limits (`RATE_LIMIT_SEND`, `RATE_LIMIT_LOGIN`, `RATE_LIMIT_FEDERATION`), with
//! governor's GCRA limiters: a limit `N/<duration>` lets a burst of N through and refills one
//! cell every `duration / N`. A refusal is `429 rate_limited` with `Retry-After` (whole seconds
//! until the next attempt can succeed, at least 1).
//!
//! Keys:
//! - sends: the user id (every device and transport of a user shares one budget), unless
//!   `RATE_LIMIT_SEND_OVERRIDES` names the user's nick, which then has a limit of its own;
//! - logins and registrations: the client address ([`client_ip`]), IPv6 by /64;
//! - federation: the verified origin server.
//!
//! The keyed limiters keep one small state per key they have seen; [`Limits::prune`] (run by
//! `workers::prune_limits`) forgets the keys whose budget is full again, so memory follows the
//! number of recently active keys, not every key ever seen.
//!
//! `crate::chat::send` calls [`Limits::check_send`] and `crate::chat::typing`
//! [`Limits::check_typing`], so HTTP, the WebSocket and (to come) IRC share them (a send is a
//! send, whatever carries it); the HTTP handlers call [`Limits::check_login`] and
//! [`Limits::check_federation`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Config, RateLimit};
use crate::error::ApiError;

/// Every rate limiter of the server.
pub struct Limits {
    send: Keyed<String>,
    /// Nick → its own limiter (`None`: unlimited).
    send_overrides: HashMap<String, Option<DefaultDirectRateLimiter>>,
    login: Keyed<IpAddr>,
    federation: Keyed<String>,
    typing: Keyed<String>,
    trusted_proxies: Vec<IpAddr>,
}

/// One keyed limit; `None` when off.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    /// Requests refused so far.
    refused: AtomicU64,
}

fn quota(limit: RateLimit) -> Option<Quota> {
    match limit {
        RateLimit::Off => None,
        RateLimit::Every { count, per } => {
            Quota::with_period(per / count.get()).map(|q| q.allow_burst(count))
        }
    }
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(limit: RateLimit) -> Self {
        Keyed {
            limiter: quota(limit).map(RateLimiter::keyed),
            refused: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            not_until.wait_time_from(limiter.clock().now())
        })
    }

    fn prune(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, RateLimiter::len)
    }
}

impl Limits {
    /// The limiters of `config`.
    pub fn new(config: &Config) -> Self {
        Limits {
            send: Keyed::new(config.rate_limit_send),
            send_overrides: config
                .rate_limit_send_overrides
                .0
                .iter()
                .map(|(nick, limit)| (nick.clone(), quota(*limit).map(RateLimiter::direct)))
                .collect(),
            login: Keyed::new(config.rate_limit_login),
            federation: Keyed::new(config.rate_limit_federation),
            typing: Keyed::new(config.rate_limit_typing),
            trusted_proxies: config.trusted_proxies.0.clone(),
        }
    }

    /// Counts one message of this user (any transport): `429` when over `RATE_LIMIT_SEND`
    /// (or the user's override).
    pub fn check_send(&self, user_id: &str, nick: &str) -> Result<(), ApiError> {
        let verdict = match self.send_overrides.get(nick) {
            Some(None) => Ok(()),
            Some(Some(limiter)) => limiter.check().map_err(|not_until| {
                self.send.refused.fetch_add(1, Ordering::Relaxed);
                not_until.wait_time_from(limiter.clock().now())
            }),
            None => self.send.check(&user_id.to_string()),
        };
        verdict.map_err(|wait| {
            ApiError::rate_limited("too many messages; wait before sending more", wait)
        })
    }

    /// Counts one typing notification of this user (any transport): `429` when over
    /// `RATE_LIMIT_TYPING`.
    pub fn check_typing(&self, user_id: &str) -> Result<(), ApiError> {
        self.typing.check(&user_id.to_string()).map_err(|wait| {
            ApiError::rate_limited("too many typing notifications; slow down", wait)
        })
    }

    /// Counts one login or registration from `client`: `429` when over `RATE_LIMIT_LOGIN`.
    pub fn check_login(&self, client: IpAddr) -> Result<(), ApiError> {
        self.login.check(&login_key(client)).map_err(|wait| {
            ApiError::rate_limited("too many logins from this address; try again later", wait)
        })
    }

    /// Counts one request of the verified peer `origin`: `429` when over
    /// `RATE_LIMIT_FEDERATION`.
    pub fn check_federation(&self, origin: &str) -> Result<(), ApiError> {
        self.federation.check(&origin.to_string()).map_err(|wait| {
            // Debug, not info: a peer in a loop would otherwise flood the log (the 429s are
            // counted in /metrics).
            tracing::debug!(%origin, "federation rate limit reached");
            ApiError::rate_limited("too many requests from your server", wait)
        })
    }

    /// The client address of a request: its peer, or, when the peer is a trusted proxy, the
    /// address it forwarded for ([`client_ip`]).
    pub fn client_of(&self, req: &actix_web::HttpRequest) -> IpAddr {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        client_ip(req.peer_addr(), forwarded, &self.trusted_proxies)
    }

    /// Forgets the keys whose budget has refilled (their state is the same as a new key's).
    pub fn prune(&self) {
        self.send.prune();
        self.login.prune();
        self.federation.prune();
        self.typing.prune();
    }

    /// Prometheus text: refusals and remembered keys per limit.
    pub fn render(&self) -> String {
        let limits = [
            (
                "send",
                self.send.refused.load(Ordering::Relaxed),
                self.send.len(),
            ),
            (
                "login",
                self.login.refused.load(Ordering::Relaxed),
                self.login.len(),
            ),
            (
                "federation",
                self.federation.refused.load(Ordering::Relaxed),
                self.federation.len(),
            ),
            (
                "typing",
                self.typing.refused.load(Ordering::Relaxed),
                self.typing.len(),
            ),
        ];
        let mut out = String::from(
            "# HELP hearth_rate_limited_total Requests refused with 429 rate_limited, by limit.\n\
             # TYPE hearth_rate_limited_total counter\n",
        );
        for (name, refused, _) in limits {
            let _ = writeln!(
                out,
                "hearth_rate_limited_total{{limit=\"{name}\"}} {refused}"
            );
        }
        out.push_str(
            "# HELP hearth_rate_limit_keys Keys (users, addresses, peers) a limit remembers.\n\
             # TYPE hearth_rate_limit_keys gauge\n",
        );
        for (name, _, keys) in limits {
            let _ = writeln!(out, "hearth_rate_limit_keys{{limit=\"{name}\"}} {keys}");
        }
        out
    }

    /// Keys currently remembered (send, login, federation).
    pub fn tracked(&self) -> (usize, usize, usize) {
        (self.send.len(), self.login.len(), self.federation.len())
    }
}

/// Logins (and IRC connections) are counted per IPv4 address, and per /64 for IPv6 (one host usually has a whole
/// /64 to pick addresses from).
pub fn login_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// The client address of a connection from `peer`.
///
/// When `peer` is one of `trusted` (a reverse proxy), the `X-Forwarded-For` headers are read
/// from the right (the entry the proxy added last) and the first address that is not itself a
/// trusted proxy is the client. An entry that is not an IP address stops the walk at the last
/// trusted hop. A peer that is not trusted is the client, whatever it sends; without a peer
/// (never on TCP) the unspecified address stands for every such client.
pub fn client_ip<'a>(
    peer: Option<SocketAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let Some(peer) = peer.map(|p| p.ip().to_canonical()) else {
        return IpAddr::from([0, 0, 0, 0]);
    };
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|header| header.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP")
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip(s), 40_000))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let got = client_ip(peer("203.0.113.9"), ["198.51.100.1"].into_iter(), &[]);
        assert_eq!(got, ip("203.0.113.9"));
        let got = client_ip(
            peer("203.0.113.9"),
            ["198.51.100.1"].into_iter(),
            &[ip("127.0.0.1")],
        );
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_forwards_the_rightmost_untrusted_hop() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        // A client may put anything on the left; only what our proxies appended counts.
        let got = client_ip(
            peer("127.0.0.1"),
            ["1.1.1.1, 198.51.100.7", "10.0.0.2"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("198.51.100.7"));
        let got = client_ip(peer("127.0.0.1"), std::iter::empty(), &trusted);
        assert_eq!(got, ip("127.0.0.1"));
        let got = client_ip(
            peer("127.0.0.1"),
            ["garbage, 10.0.0.2"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("10.0.0.2"));
        let got = client_ip(
            peer("::ffff:127.0.0.1"),
            ["2001:db8::1"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("2001:db8::1"));
    }

    #[test]
    fn ipv6_logins_count_per_64() {
        assert_eq!(login_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(login_key(ip("192.0.2.1")), ip("192.0.2.1"));
    }

    fn config(env: &[(&str, &str)]) -> Config {
        use clap::Parser as _;
        let mut args = vec!["homeserver".to_string()];
        for (k, v) in env {
            args.push(format!("--{k}={v}"));
        }
        crate::config::Cli::try_parse_from(args)
            .expect("valid flags")
            .config
    }

    #[test]
    fn a_burst_then_refusal_with_a_wait() {
        let limits = Limits::new(&config(&[("rate-limit-send", "3/30s")]));
        for _ in 0..3 {
            assert!(limits.check_send("u1", "alice").is_ok());
        }
        let refused = limits
            .check_send("u1", "alice")
            .expect_err("over the limit");
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(refused.code, "rate_limited");
        // One cell comes back every 10 s.
        assert!(refused.retry_after.is_some_and(|s| (1..=10).contains(&s)));
        // Another user has a budget of their own.
        assert!(limits.check_send("u2", "bob").is_ok());
        assert_eq!(limits.tracked().0, 2);
        let text = limits.render();
        assert!(
            text.contains("hearth_rate_limited_total{limit=\"send\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hearth_rate_limit_keys{limit=\"send\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn overrides_and_off() {
        let limits = Limits::new(&config(&[
            ("rate-limit-send", "1/1h"),
            ("rate-limit-send-overrides", "bot=5/1h,logger=off"),
            ("rate-limit-login", "off"),
        ]));
        assert!(limits.check_send("u1", "alice").is_ok());
        assert!(limits.check_send("u1", "alice").is_err());
        for _ in 0..5 {
            assert!(limits.check_send("u2", "bot").is_ok());
        }
        assert!(limits.check_send("u2", "bot").is_err());
        for _ in 0..100 {
            assert!(limits.check_send("u3", "logger").is_ok());
            assert!(limits.check_login(ip("192.0.2.1")).is_ok());
        }
    }

    #[test]
    fn prune_forgets_refilled_keys() {
        let limits = Limits::new(&config(&[("rate-limit-federation", "1000/1s")]));
        for n in 0..100 {
            assert!(limits.check_federation(&format!("hs{n}.example")).is_ok());
        }
        assert_eq!(limits.tracked().2, 100);
        // A cell comes back every millisecond: soon every key is full again.
        std::thread::sleep(Duration::from_millis(20));
        limits.prune();
        assert_eq!(limits.tracked().2, 0);
    }
}
