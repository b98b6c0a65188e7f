//! The work state machine (ARCHITECTURE.md §7):
//! `OPEN → EVALUATING → AWARDED → EXECUTING → COMPLETED | FAILED`, or `OPEN|EVALUATING → CANCELLED`.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkStatus {
    Open,
    Evaluating,
    Awarded,
    Executing,
    Completed,
    Failed,
    Cancelled,
}

/// A change the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("work cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub from: WorkStatus,
    pub to: WorkStatus,
}

impl WorkStatus {
    pub const ALL: [WorkStatus; 7] = [
        WorkStatus::Open,
        WorkStatus::Evaluating,
        WorkStatus::Awarded,
        WorkStatus::Executing,
        WorkStatus::Completed,
        WorkStatus::Failed,
        WorkStatus::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Open => "OPEN",
            WorkStatus::Evaluating => "EVALUATING",
            WorkStatus::Awarded => "AWARDED",
            WorkStatus::Executing => "EXECUTING",
            WorkStatus::Completed => "COMPLETED",
            WorkStatus::Failed => "FAILED",
            WorkStatus::Cancelled => "CANCELLED",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, WorkStatus::Completed | WorkStatus::Failed | WorkStatus::Cancelled)
    }

    /// The status after moving to `to`, or why that move is refused.
    pub fn transition(self, to: WorkStatus) -> Result<WorkStatus, InvalidTransition> {
        use WorkStatus::*;
        let allowed = matches!(
            (self, to),
            (Open, Evaluating)
                | (Evaluating, Awarded)
                | (Awarded, Executing)
                | (Awarded, Failed)
                | (Executing, Completed)
                | (Executing, Failed)
                | (Open, Cancelled)
                | (Evaluating, Cancelled)
        );
        if allowed { Ok(to) } else { Err(InvalidTransition { from: self, to }) }
    }
}

impl fmt::Display for WorkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        WorkStatus::ALL.into_iter().find(|status| status.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::WorkStatus::{self, *};

    const ALLOWED: [(WorkStatus, WorkStatus); 8] = [
        (Open, Evaluating),
        (Evaluating, Awarded),
        (Awarded, Executing),
        (Awarded, Failed),
        (Executing, Completed),
        (Executing, Failed),
        (Open, Cancelled),
        (Evaluating, Cancelled),
    ];

    #[test]
    fn exactly_the_lifecycle_transitions_are_allowed_and_every_other_is_refused() {
        for from in WorkStatus::ALL {
            for to in WorkStatus::ALL {
                let result = from.transition(to);
                if ALLOWED.contains(&(from, to)) {
                    assert_eq!(result, Ok(to), "{from} → {to} must be allowed");
                } else {
                    let refused = result.expect_err("refused");
                    assert_eq!((refused.from, refused.to), (from, to), "{from} → {to} must be refused");
                }
            }
        }
    }

    #[test]
    fn terminal_states_are_final() {
        for from in WorkStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(WorkStatus::ALL.into_iter().all(|to| from.transition(to).is_err()), "{from} is terminal");
        }
        assert!(!Open.is_terminal() && !Evaluating.is_terminal());
    }

    #[test]
    fn names_round_trip() {
        for status in WorkStatus::ALL {
            assert_eq!(status.as_str().parse::<WorkStatus>(), Ok(status));
        }
        assert!("open".parse::<WorkStatus>().is_err());
    }

    proptest::proptest! {
        /// Whatever is asked, in whatever order, a terminal state is never left and every
        /// accepted step is one of the lifecycle's.
        #[test]
        fn random_walks_never_leave_a_terminal_state(steps in proptest::collection::vec(0usize..7, 0..40)) {
            let mut status = Open;
            for step in steps {
                let to = WorkStatus::ALL[step];
                match status.transition(to) {
                    Ok(next) => {
                        proptest::prop_assert!(!status.is_terminal());
                        proptest::prop_assert!(ALLOWED.contains(&(status, next)));
                        status = next;
                    }
                    Err(refused) => proptest::prop_assert_eq!(refused.from, status),
                }
            }
        }
    }
}
