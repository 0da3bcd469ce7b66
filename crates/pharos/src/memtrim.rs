//! Hands memory that glibc's allocator holds free in its arenas back to the system, so pharos'
//! RSS follows its live heap after a burst (a large query, a compaction, a big push) instead of
//! staying at the burst's peak.
//!
//! Why: the 30-minute soak (bench/README.md, "Soak") reached 3.5-4.4 GB RSS while glibc's
//! `malloc_info` showed ~3.1 GB of it free in 46 arenas and a live heap of ~0.45 GB. glibc only
//! returns the top of an arena by itself; `malloc_trim(0)` also releases free pages in the middle
//! of every arena. It costs a walk of each arena's free lists, so it runs on a timer of its own
//! thread, and only when the arenas hold at least `MIN_FREE_BYTES` free.
//!
//! `PHAROS_MALLOC_TRIM_SECS` sets the period (default 30; `0` turns it off). With the `mimalloc`
//! feature there is nothing to do: mimalloc returns memory itself.

/// Default seconds between two looks at the arenas.
const DEFAULT_PERIOD_SECS: u64 = 30;
/// Free bytes in the arenas below which trimming is not worth its walk.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
const MIN_FREE_BYTES: usize = 64 << 20;

/// The period from `PHAROS_MALLOC_TRIM_SECS`: `None` when trimming is off or the value is not a
/// number of seconds (then a warning says so and the default applies).
fn period_from_env(value: Option<&str>) -> Option<u64> {
    let Some(v) = value else {
        return Some(DEFAULT_PERIOD_SECS);
    };
    match v.trim().parse::<u64>() {
        Ok(0) => None,
        Ok(secs) => Some(secs),
        Err(_) => {
            tracing::warn!(
                value = v,
                "PHAROS_MALLOC_TRIM_SECS is not a whole number of seconds; using {DEFAULT_PERIOD_SECS}"
            );
            Some(DEFAULT_PERIOD_SECS)
        }
    }
}

/// Starts the trimming thread (glibc builds only; elsewhere a no-op).
pub fn start() {
    let env = std::env::var("PHAROS_MALLOC_TRIM_SECS").ok();
    let Some(secs) = period_from_env(env.as_deref()) else {
        return;
    };
    spawn(std::time::Duration::from_secs(secs));
}

#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
fn spawn(period: std::time::Duration) {
    let started = std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(move || loop {
            std::thread::sleep(period);
            // SAFETY: mallinfo2 and malloc_trim only read and update glibc's own arena state
            // under its locks; neither takes pointers from us.
            let free = unsafe { libc::mallinfo2() }.fordblks;
            if free >= MIN_FREE_BYTES {
                unsafe { libc::malloc_trim(0) };
            }
        });
    if let Err(e) = started {
        tracing::warn!("cannot start the malloc-trim thread: {e}");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
fn spawn(_period: std::time::Duration) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_comes_from_the_environment() {
        assert_eq!(period_from_env(None), Some(DEFAULT_PERIOD_SECS));
        assert_eq!(period_from_env(Some("0")), None);
        assert_eq!(period_from_env(Some(" 5 ")), Some(5));
        assert_eq!(period_from_env(Some("soon")), Some(DEFAULT_PERIOD_SECS));
    }
}
