//! What every signal's delete requests share (Loki's delete API semantics, used by logs and
//! traces): why a cancellation is refused, Loki's rule for when a request may still be
//! cancelled and its words, and Go's duration text that those words use.

/// Why a cancellation was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelError {
    NotFound,
    NotAllowed(String),
    Io(String),
}

/// Loki's check before cancelling a request: never once processed, and only within
/// `cancel_period_ms` of its creation unless `force`.
pub fn check_cancel(
    processed: bool,
    created_at_ms: i64,
    cancel_period_ms: i64,
    now_ms: i64,
    force: bool,
) -> Result<(), CancelError> {
    if processed {
        return Err(CancelError::NotAllowed(
            "deletion of request which is in process or already processed is not allowed".into(),
        ));
    }
    if created_at_ms.saturating_add(cancel_period_ms) < now_ms && !force {
        return Err(CancelError::NotAllowed(format!(
            "Cancellation of partially completed delete request or delete request past the deadline of {} since its creation is not allowed. To force, use the ?force query parameter",
            go_duration(cancel_period_ms)
        )));
    }
    Ok(())
}

/// A duration in milliseconds as Go's `time.Duration.String` writes it (`24h0m0s`, `1.5s`).
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    if h > 0 {
        format!("{neg}{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{neg}{m}m{secs}")
    } else if s > 0 || frac >= 1 {
        if s == 0 {
            return format!("{neg}{frac}ms");
        }
        format!("{neg}{secs}")
    } else {
        "0s".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_cancel_rule() {
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(go_duration(90_000), "1m30s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(50), "50ms");
        assert!(check_cancel(false, 0, 10, 5, false).is_ok());
        assert!(
            matches!(check_cancel(false, 0, 10, 50, false), Err(CancelError::NotAllowed(m)) if m.contains("deadline of 10ms"))
        );
        assert!(check_cancel(false, 0, 10, 50, true).is_ok());
        assert!(check_cancel(true, 0, 10, 5, true).is_err());
    }
}
