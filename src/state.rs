//! The health vocabulary shared by probes, analysis and reports (SPEC §2).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service's or link's health. Ordered best to worst, so `max` picks the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Answering within its thresholds.
    Up,
    /// Not probed, or the probe could not decide.
    Unknown,
    /// Answering, but slow, partly failing, or a weak dependency is down.
    Degraded,
    /// Not answering, or a strong dependency is down.
    Down,
}

impl State {
    /// Every state, worst first (the order SPEC §2 lists them in).
    pub const WORST_FIRST: [Self; 4] = [Self::Down, Self::Degraded, Self::Unknown, Self::Up];

    /// The lowercase name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Unknown => "unknown",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }

    /// Alive for an any_of group: `up` or `degraded`.
    pub fn is_alive(self) -> bool {
        matches!(self, Self::Up | Self::Degraded)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn worst_wins() {
        assert_eq!(State::Up.max(State::Degraded), State::Degraded);
        assert_eq!(State::Unknown.max(State::Down), State::Down);
        assert_eq!(State::Up.max(State::Unknown), State::Unknown);
        let mut all = State::WORST_FIRST;
        all.sort();
        all.reverse();
        assert_eq!(all, State::WORST_FIRST);
    }
}
