//! Retry delays: exponential backoff with jitter ("equal jitter": half the delay fixed, half random), so that many
//! jobs failing together on one outage do not come back together.

use std::time::Duration;

/// Delay rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed attempt (before jitter).
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after attempt number `attempt` (1 = the first) failed, with `jitter` in `[0, 1)` drawn by the
    /// caller: `min(max, base × 2^(attempt−1))`, of which the upper half is scaled by `jitter`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_secs_f64();
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::from_secs_f64(full / 2.0 + full / 2.0 * jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    #[test]
    fn doubles_then_caps() {
        assert_eq!(B.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(B.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(B.delay(4, 1.0), Duration::from_secs(8));
        assert_eq!(B.delay(10, 1.0), Duration::from_secs(60));
        assert_eq!(B.delay(400, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn jitter_spans_the_upper_half() {
        assert_eq!(B.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(B.delay(3, 0.5), Duration::from_secs(3));
        assert_eq!(B.delay(3, f64::NAN), Duration::from_secs(2));
        assert_eq!(B.delay(3, 7.0), Duration::from_secs(4));
    }
}
