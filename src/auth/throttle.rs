//! Login throttling: per client IP and per username, each failed login doubles a required gap (20 ms, 40 ms,
//! … capped at 10 min) before the next attempt is accepted. Entries expire 6 h after their last failure; a
//! successful login clears both. Pure: the caller passes the clock in.
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const FIRST_GAP: Duration = Duration::from_millis(20);
pub const MAX_GAP: Duration = Duration::from_secs(600);
pub const EXPIRY: Duration = Duration::from_secs(6 * 3600);
/// Above this many entries a failure also drops expired ones (bounds memory under a spray of names/IPs).
const PRUNE_ABOVE: usize = 10_000;
/// Usernames are keyed by at most this many bytes (valid usernames are ≤ 64 characters).
const MAX_KEY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// No attempt is accepted before this instant.
    allowed_at: Instant,
}

#[derive(Debug, Default)]
pub struct Throttle {
    ips: HashMap<IpAddr, Entry>,
    users: HashMap<String, Entry>,
}

/// The gap after `failures` consecutive failures: 20 ms · 2^(failures−1), capped.
pub fn gap(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let shift = (failures - 1).min(31);
    FIRST_GAP.checked_mul(1u32 << shift).map_or(MAX_GAP, |g| g.min(MAX_GAP))
}

fn user_key(username: &str) -> String {
    let mut end = username.len().min(MAX_KEY);
    while !username.is_char_boundary(end) {
        end -= 1;
    }
    username[..end].to_string()
}

fn live(e: Option<&Entry>, now: Instant) -> Option<&Entry> {
    e.filter(|e| now.saturating_duration_since(e.last_failure) < EXPIRY)
}

fn record<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Entry>, key: K, now: Instant) {
    let failures = match live(map.get(&key), now) {
        Some(e) => e.failures.saturating_add(1),
        None => 1,
    };
    map.insert(key, Entry { failures, last_failure: now, allowed_at: now + gap(failures) });
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, e| now.saturating_duration_since(e.last_failure) < EXPIRY);
    }
}

impl Throttle {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Err(wait)` while the IP or the username is inside its gap.
    pub fn check(&self, ip: IpAddr, username: &str, now: Instant) -> Result<(), Duration> {
        let wait = [live(self.ips.get(&ip), now), live(self.users.get(&user_key(username)), now)]
            .into_iter()
            .flatten()
            .map(|e| e.allowed_at.saturating_duration_since(now))
            .max()
            .unwrap_or(Duration::ZERO);
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    pub fn failure(&mut self, ip: IpAddr, username: &str, now: Instant) {
        record(&mut self.ips, ip, now);
        record(&mut self.users, user_key(username), now);
    }

    pub fn success(&mut self, ip: IpAddr, username: &str) {
        self.ips.remove(&ip);
        self.users.remove(&user_key(username));
    }

    /// The current gap of an IP (zero when none or expired); for tests and metrics.
    pub fn ip_gap(&self, ip: IpAddr, now: Instant) -> Duration {
        live(self.ips.get(&ip), now).map_or(Duration::ZERO, |e| gap(e.failures))
    }

    pub fn user_gap(&self, username: &str, now: Instant) -> Duration {
        live(self.users.get(&user_key(username)), now).map_or(Duration::ZERO, |e| gap(e.failures))
    }
}

/// The refusal: says how long to wait, never whether the account exists.
pub fn too_many(wait: Duration) -> crate::error::ApiError {
    crate::error::ApiError::too_many("login attempts", wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn gap_doubles_from_20ms_and_caps() {
        assert_eq!(gap(0), Duration::ZERO);
        assert_eq!(gap(1), MS(20));
        assert_eq!(gap(2), MS(40));
        assert_eq!(gap(3), MS(80));
        assert_eq!(gap(10), MS(20 * 512));
        assert_eq!(gap(15), MS(327_680));
        assert_eq!(gap(16), MAX_GAP);
        assert_eq!(gap(u32::MAX), MAX_GAP);
    }

    #[test]
    fn failures_require_growing_gaps() {
        let t0 = Instant::now();
        let mut t = Throttle::new();
        assert!(t.check(ip(1), "alice", t0).is_ok());
        t.failure(ip(1), "alice", t0);
        assert_eq!(t.check(ip(1), "alice", t0), Err(MS(20)));
        assert_eq!(t.check(ip(1), "alice", t0 + MS(19)), Err(MS(1)));
        assert!(t.check(ip(1), "alice", t0 + MS(20)).is_ok());
        let t1 = t0 + MS(20);
        t.failure(ip(1), "alice", t1);
        assert_eq!(t.check(ip(1), "alice", t1), Err(MS(40)));
        assert!(t.check(ip(1), "alice", t1 + MS(40)).is_ok());
        let t2 = t1 + MS(40);
        t.failure(ip(1), "alice", t2);
        assert_eq!(t.check(ip(1), "alice", t2), Err(MS(80)));
        assert_eq!(t.ip_gap(ip(1), t2), MS(80));
        assert_eq!(t.user_gap("alice", t2), MS(80));
    }

    #[test]
    fn success_resets_both() {
        let t0 = Instant::now();
        let mut t = Throttle::new();
        for i in 0..5 {
            t.failure(ip(1), "alice", t0 + MS(i));
        }
        t.success(ip(1), "alice");
        assert!(t.check(ip(1), "alice", t0 + MS(5)).is_ok());
        t.failure(ip(1), "alice", t0 + MS(5));
        assert_eq!(t.ip_gap(ip(1), t0 + MS(5)), MS(20));
        assert_eq!(t.user_gap("alice", t0 + MS(5)), MS(20));
    }

    #[test]
    fn entries_expire_after_6h() {
        let t0 = Instant::now();
        let mut t = Throttle::new();
        for _ in 0..20 {
            t.failure(ip(1), "alice", t0);
        }
        assert_eq!(t.check(ip(1), "alice", t0), Err(MAX_GAP));
        assert_eq!(t.ip_gap(ip(1), t0 + EXPIRY - MS(1)), MAX_GAP);
        assert_eq!(t.ip_gap(ip(1), t0 + EXPIRY), Duration::ZERO);
        // After expiry the count starts over.
        t.failure(ip(1), "alice", t0 + EXPIRY);
        assert_eq!(t.check(ip(1), "alice", t0 + EXPIRY), Err(MS(20)));
    }

    #[test]
    fn ip_and_username_are_independent() {
        let t0 = Instant::now();
        let mut t = Throttle::new();
        t.failure(ip(1), "alice", t0);
        t.failure(ip(1), "alice", t0);
        // Same IP, another user: the IP's gap applies.
        assert_eq!(t.check(ip(1), "bob", t0), Err(MS(40)));
        // Another IP, same user: the user's gap applies.
        assert_eq!(t.check(ip(2), "alice", t0), Err(MS(40)));
        // Neither: free.
        assert!(t.check(ip(2), "bob", t0).is_ok());
        t.failure(ip(2), "bob", t0);
        assert_eq!(t.ip_gap(ip(2), t0), MS(20));
        assert_eq!(t.ip_gap(ip(1), t0), MS(40));
        // Success from IP 2 as bob leaves IP 1 and alice alone.
        t.success(ip(2), "bob");
        assert_eq!(t.check(ip(1), "alice", t0), Err(MS(40)));
    }

    #[test]
    fn refusal_does_not_name_the_account() {
        let e = too_many(MS(20));
        assert_eq!(e.status, 429);
        assert_eq!(e.message, "too many login attempts; try again in 1 s");
        assert_eq!(too_many(MS(2001)).message, "too many login attempts; try again in 3 s");
        // The wait is also the Retry-After header.
        assert_eq!(too_many(MS(2001)).retry_after, Some(3));
    }
}
