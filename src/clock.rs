//! Time and process generation: the two facts every other module reads and none of them owns.
//!
//! Sits at the bottom of the import graph (imports nothing from the crate). Not pure (it reads
//! the clock and counts forks), but side-effect free apart from registering one `fork()` hook.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds for decisions and events. On Linux this reads the coarse realtime clock
/// (updated every tick, 1-4 ms; no syscall, ~5 ns instead of ~26 ns): every consumer of this value
/// (time windows, schedules, event timestamps) works at millisecond granularity or coarser.
pub fn now_ms() -> i64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec and CLOCK_REALTIME_COARSE is a clock id every
        // Linux kernel since 2.6.32 provides; the call writes only into `ts`.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return ts.tv_sec * 1_000 + ts.tv_nsec / 1_000_000;
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bumped in every child process a `fork()` creates (a `pthread_atfork` child handler), so a client
/// can tell in one atomic load that its background threads were left behind in the parent.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many `fork()`s separate this process from the one that first started a client (0 in that
/// process). Bindings compare it with [`Client::fork_generation`](crate::Client::fork_generation)
/// to know when to call [`Client::after_fork`](crate::Client::after_fork).
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Registers the `fork()` child handler behind [`fork_generation`] (once per process).
pub(crate) fn watch_forks() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        extern "C" fn in_child() {
            // Only an atomic add: async-signal-safe, as a child handler must be.
            FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
        }
        ONCE.call_once(|| {
            // SAFETY: registers a handler that performs one atomic add; no pointer outlives the
            // call. A failure (ENOMEM) only means forks go unnoticed, as without this call.
            unsafe {
                libc::pthread_atfork(None, None, Some(in_child));
            }
        });
    }
}
