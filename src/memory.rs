//! Heap memory handed back to the operating system (glibc only; elsewhere these do nothing).
//!
//! glibc's allocator keeps what a burst freed: after the caches' initial sync of 1,000 databases (a few
//! hundred MB of JSON decoded into objects and dropped within seconds) a fresh process held 1.23× the memory
//! of one that had run for an hour (`bench/converge.sh`). Two settings bring it back:
//! - fewer arenas ([`limit_arenas`]): glibc gives each busy thread its own arena, up to 8 per core *of the
//!   node* (not of the container's CPU limit), and memory freed in one arena is reused only by it;
//! - [`spawn_trimmer`]: every few seconds, when [`TRIM_ABOVE`] more bytes sit free inside the arenas than
//!   after the last trim, `malloc_trim(0)` returns their whole free pages (the top of each heap and the
//!   pages in the middle).
//!
//! `MALLOC_ARENA_MAX` in the environment (glibc's own tunable) overrides the arena limit.
use std::time::Duration;

/// The arenas glibc may create ([`limit_arenas`]).
pub const ARENAS: i32 = 4;
/// Free bytes inside the arenas above which the trimmer gives pages back.
pub const TRIM_ABOVE: usize = 8 << 20;
/// How often the trimmer looks.
pub const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Caps glibc's arenas at [`ARENAS`] unless `MALLOC_ARENA_MAX` is set. Call before other threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before the runtime's threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// Bytes allocated but free inside glibc's arenas (kept by the process, not in use). None elsewhere.
pub fn free_in_arenas() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 reads the allocator's counters (glibc ≥ 2.33).
        let info = unsafe { libc::mallinfo2() };
        Some(info.fordblks)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Returns the arenas' free pages to the operating system (glibc); true when some were returned.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases memory the allocator holds free.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Every [`TRIM_EVERY`], trims when the bytes free inside the arenas grew by more than [`TRIM_ABOVE`] since
/// the last trim (a trim returns free pages but leaves them counted free when they lie between used blocks,
/// so the count itself may stay high). Idle, that is one look at the allocator's counters per period.
pub fn spawn_trimmer() {
    let Some(mut base) = free_in_arenas() else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let free = free_in_arenas().unwrap_or(0);
            if free > base + TRIM_ABOVE {
                tokio::task::spawn_blocking(trim).await.ok();
                base = free_in_arenas().unwrap_or(0);
                tracing::debug!(free_before = free, free_after = base, "heap trimmed");
            } else {
                // Freed blocks reused: the next burst is measured from here.
                base = base.min(free);
            }
        }
    });
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Memory a burst freed is counted as free in the arenas, and a trim hands it back: the count of free
    /// bytes drops.
    #[test]
    fn a_trim_gives_back_what_a_burst_freed() {
        // Many small blocks (below the mmap threshold, so they live in the heap), then most of them freed.
        let mut blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![(i % 251) as u8; 256]).collect();
        let keep = blocks.split_off(199_000);
        drop(blocks);
        let free = free_in_arenas().expect("glibc");
        assert!(free > TRIM_ABOVE, "the freed 50 MB count as free in the arenas: {free}");
        trim();
        let after = free_in_arenas().expect("glibc");
        assert!(after < free, "the trim returned free pages: {free} -> {after}");
        assert_eq!(keep.len(), 1_000);
    }
}
