//! The contract state machine (ARCHITECTURE.md §7):
//! `AWARDED → EXECUTING → COMPLETED | FAILED`, plus `EXPIRED` by deadline and `DISPUTED`.
//! Terminal states are final. Who may ask for a change is decided here too: only the winning
//! provider reports progress and completion; either party may fail the contract.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractStatus {
    Awarded,
    Executing,
    Completed,
    Failed,
    Expired,
    Disputed,
}

/// The two parties of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Consumer,
    Provider,
}

impl Party {
    pub const fn as_str(self) -> &'static str {
        match self {
            Party::Consumer => "consumer",
            Party::Provider => "provider",
        }
    }
}

/// What a party asks of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Progress report; the first one starts execution.
    Progress,
    /// Completion report, successful or not.
    Complete {
        success: bool,
    },
    Fail,
    /// The deadline passed (the timer, never a party).
    Expire,
}

/// Why a change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller is a party, but not the one allowed to do this.
    #[error("only the {allowed} may do this")]
    NotAllowed { allowed: &'static str },
    /// The contract's state does not allow it.
    #[error("contract is {from}; it cannot {action}")]
    InvalidState { from: ContractStatus, action: &'static str },
}

impl ContractStatus {
    pub const ALL: [ContractStatus; 6] = [
        ContractStatus::Awarded,
        ContractStatus::Executing,
        ContractStatus::Completed,
        ContractStatus::Failed,
        ContractStatus::Expired,
        ContractStatus::Disputed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Awarded => "AWARDED",
            ContractStatus::Executing => "EXECUTING",
            ContractStatus::Completed => "COMPLETED",
            ContractStatus::Failed => "FAILED",
            ContractStatus::Expired => "EXPIRED",
            ContractStatus::Disputed => "DISPUTED",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, ContractStatus::Completed | ContractStatus::Failed | ContractStatus::Expired)
    }

    /// The status after `by` does `action`, or why it is refused. `by` is `None` for the timer.
    pub fn apply(self, action: Action, by: Option<Party>) -> Result<ContractStatus, Refusal> {
        use ContractStatus::*;
        let refuse = |action: &'static str| Refusal::InvalidState { from: self, action };
        match action {
            Action::Progress | Action::Complete { .. } if by != Some(Party::Provider) => {
                Err(Refusal::NotAllowed { allowed: "winning provider" })
            }
            Action::Expire if by.is_some() => Err(Refusal::NotAllowed { allowed: "deadline timer" }),
            Action::Fail if by.is_none() => Err(Refusal::NotAllowed { allowed: "contract's parties" }),
            Action::Progress => match self {
                Awarded | Executing => Ok(Executing),
                _ => Err(refuse("report progress")),
            },
            Action::Complete { success } => match self {
                Executing => Ok(if success { Completed } else { Failed }),
                _ => Err(refuse("complete")),
            },
            Action::Fail => match self {
                Awarded | Executing | Disputed => Ok(Failed),
                _ => Err(refuse("fail")),
            },
            Action::Expire => match self {
                Awarded | Executing => Ok(Expired),
                _ => Err(refuse("expire")),
            },
        }
    }
}

impl fmt::Display for ContractStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContractStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        ContractStatus::ALL.into_iter().find(|status| status.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::ContractStatus::{self, *};
    use super::{Action, Party, Refusal};

    const PROVIDER: Option<Party> = Some(Party::Provider);
    const CONSUMER: Option<Party> = Some(Party::Consumer);

    #[test]
    fn the_lifecycle_runs_awarded_executing_completed() {
        let started = Awarded.apply(Action::Progress, PROVIDER).unwrap();
        assert_eq!(started, Executing);
        assert_eq!(started.apply(Action::Progress, PROVIDER), Ok(Executing), "more progress stays executing");
        assert_eq!(started.apply(Action::Complete { success: true }, PROVIDER), Ok(Completed));
        assert_eq!(started.apply(Action::Complete { success: false }, PROVIDER), Ok(Failed));
    }

    #[test]
    fn only_the_provider_reports_progress_and_completion() {
        for action in [Action::Progress, Action::Complete { success: true }] {
            for by in [CONSUMER, None] {
                assert!(matches!(Executing.apply(action, by), Err(Refusal::NotAllowed { .. })), "{action:?} {by:?}");
            }
        }
    }

    #[test]
    fn either_party_may_fail_a_live_contract_and_only_the_timer_expires_it() {
        for from in [Awarded, Executing, Disputed] {
            assert_eq!(from.apply(Action::Fail, CONSUMER), Ok(Failed));
            assert_eq!(from.apply(Action::Fail, PROVIDER), Ok(Failed));
        }
        assert_eq!(Awarded.apply(Action::Expire, None), Ok(Expired));
        assert_eq!(Executing.apply(Action::Expire, None), Ok(Expired));
        assert!(matches!(Awarded.apply(Action::Expire, CONSUMER), Err(Refusal::NotAllowed { .. })));
        assert!(matches!(Awarded.apply(Action::Fail, None), Err(Refusal::NotAllowed { .. })));
    }

    #[test]
    fn completion_needs_execution_first() {
        let refused = Awarded.apply(Action::Complete { success: true }, PROVIDER).unwrap_err();
        assert_eq!(refused, Refusal::InvalidState { from: Awarded, action: "complete" });
    }

    #[test]
    fn terminal_states_are_final_for_everyone() {
        let actions = [Action::Progress, Action::Complete { success: true }, Action::Fail, Action::Expire];
        for from in ContractStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for action in actions {
                for by in [PROVIDER, CONSUMER, None] {
                    assert!(from.apply(action, by).is_err(), "{from} must refuse {action:?} by {by:?}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for status in ContractStatus::ALL {
            assert_eq!(status.as_str().parse::<ContractStatus>(), Ok(status));
        }
        assert!("PENDING".parse::<ContractStatus>().is_err(), "an award in progress is not a contract yet");
    }
}
