//! Request rate limits (token buckets): one global bucket for the API (`API_REQUESTS_RATE_LIMIT`, default
//! 100 req/s) and one bucket per client IP for creating sessions (`CREATE_SESSION_RATE_LIMIT`, default
//! 1 req/s). A bucket holds at most `burst` tokens, refills `rate` tokens a second, and each request takes one.
//! Pure: the caller passes the clock in.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many per-IP buckets, full ones are dropped (a full bucket is the same as no bucket).
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second (≥ 1).
    pub rate: u64,
    /// Bucket size: how many requests may come at once after a quiet period (≥ 1).
    pub burst: u64,
}

/// Tokens are counted in billionths, so a nanosecond of refill at `rate` is exactly `rate` units (integer
/// arithmetic: the numbers in the tests are exact).
const UNIT: u128 = 1_000_000_000;

impl Limit {
    /// `rate` per second with a burst of `burst`; both at least 1.
    pub fn new(rate: u32, burst: u32) -> Limit {
        Limit { rate: rate.max(1) as u64, burst: burst.max(1) as u64 }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// In billionths of a token.
    units: u128,
    at: Instant,
}

impl Bucket {
    pub fn full(limit: Limit, now: Instant) -> Bucket {
        Bucket { units: limit.burst as u128 * UNIT, at: now }
    }

    fn refill(&mut self, limit: Limit, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_nanos();
        self.units = (self.units + dt * limit.rate as u128).min(limit.burst as u128 * UNIT);
        self.at = self.at.max(now);
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, limit: Limit, now: Instant) -> Result<(), Duration> {
        self.refill(limit, now);
        if self.units >= UNIT {
            self.units -= UNIT;
            Ok(())
        } else {
            let ns = (UNIT - self.units).div_ceil(limit.rate as u128);
            Err(Duration::from_nanos(ns as u64))
        }
    }

    fn is_full(&self, limit: Limit, now: Instant) -> bool {
        let mut b = *self;
        b.refill(limit, now);
        b.units >= limit.burst as u128 * UNIT
    }
}

/// One bucket for everything.
#[derive(Debug)]
pub struct Global {
    pub limit: Limit,
    bucket: Mutex<Option<Bucket>>,
}

impl Global {
    pub fn new(limit: Limit) -> Global {
        Global { limit, bucket: Mutex::new(None) }
    }

    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.get_or_insert_with(|| Bucket::full(self.limit, now)).take(self.limit, now)
    }
}

/// One bucket per client IP.
#[derive(Debug)]
pub struct PerIp {
    pub limit: Limit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl PerIp {
    pub fn new(limit: Limit) -> PerIp {
        PerIp { limit, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > PRUNE_ABOVE {
            m.retain(|_, b| !b.is_full(self.limit, now));
        }
        m.entry(ip).or_insert_with(|| Bucket::full(self.limit, now)).take(self.limit, now)
    }

    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The refusal: 429 with how long to wait (whole seconds, at least 1).
pub fn too_many(wait: Duration) -> crate::error::ApiError {
    crate::error::ApiError::too_many("requests", wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn one_per_second_with_burst_three() {
        let l = Limit::new(1, 3);
        let t0 = Instant::now();
        let mut b = Bucket::full(l, t0);
        // The burst: three at once, the fourth waits a full second.
        for _ in 0..3 {
            assert_eq!(b.take(l, t0), Ok(()));
        }
        assert_eq!(b.take(l, t0), Err(MS(1000)));
        // 400 ms later 0.4 tokens are back: 600 ms to go.
        assert_eq!(b.take(l, t0 + MS(400)), Err(MS(600)));
        // At 1 s one token: one request, then empty again.
        assert_eq!(b.take(l, t0 + MS(1000)), Ok(()));
        assert_eq!(b.take(l, t0 + MS(1000)), Err(MS(1000)));
        // A long pause refills only up to the burst.
        for _ in 0..3 {
            assert_eq!(b.take(l, t0 + MS(60_000)), Ok(()));
        }
        assert!(b.take(l, t0 + MS(60_000)).is_err());
    }

    #[test]
    fn hundred_per_second() {
        let l = Limit::new(100, 100);
        let g = Global::new(l);
        let t0 = Instant::now();
        for i in 0..100 {
            assert_eq!(g.take(t0), Ok(()), "request {i}");
        }
        assert_eq!(g.take(t0), Err(MS(10)));
        // 10 ms: one more; 50 ms later: five more.
        assert_eq!(g.take(t0 + MS(10)), Ok(()));
        for _ in 0..5 {
            assert_eq!(g.take(t0 + MS(60)), Ok(()));
        }
        assert!(g.take(t0 + MS(60)).is_err());
    }

    #[test]
    fn per_ip_buckets_are_independent() {
        let p = PerIp::new(Limit::new(1, 1));
        let t0 = Instant::now();
        assert_eq!(p.take(ip(1), t0), Ok(()));
        assert_eq!(p.take(ip(1), t0), Err(MS(1000)));
        assert_eq!(p.take(ip(2), t0), Ok(()));
        assert_eq!(p.take(ip(1), t0 + MS(999)), Err(MS(1)));
        assert_eq!(p.take(ip(1), t0 + MS(1000)), Ok(()));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn clock_going_backwards_does_not_mint_tokens() {
        let l = Limit::new(1, 1);
        let t0 = Instant::now() + MS(5000);
        let mut b = Bucket::full(l, t0);
        assert_eq!(b.take(l, t0), Ok(()));
        assert!(b.take(l, t0 - MS(3000)).is_err());
        assert!(b.take(l, t0 + MS(999)).is_err());
        assert_eq!(b.take(l, t0 + MS(1000)), Ok(()));
    }

    #[test]
    fn refusal_message() {
        let e = too_many(MS(10));
        assert_eq!((e.status, e.message.as_str()), (429, "too many requests; try again in 1 s"));
        assert_eq!(too_many(MS(1500)).message, "too many requests; try again in 2 s");
    }
}
