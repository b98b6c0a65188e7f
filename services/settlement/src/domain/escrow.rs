//! The life of a contract's escrow: held at award, then settled or released, exactly once.

/// Where a contract's escrow stands. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettlementStatus {
    /// The price is held in escrow (a pending transfer from the consumer).
    Held,
    /// Paid out to the provider, fees split off.
    Settled,
    /// Returned to the consumer.
    Released,
}

impl SettlementStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SettlementStatus::Held => "HELD",
            SettlementStatus::Settled => "SETTLED",
            SettlementStatus::Released => "RELEASED",
        }
    }

    /// The status stored as `text`, or `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "HELD" => Some(SettlementStatus::Held),
            "SETTLED" => Some(SettlementStatus::Settled),
            "RELEASED" => Some(SettlementStatus::Released),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_reads_back_from_its_name_and_nothing_else_reads() {
        for status in [SettlementStatus::Held, SettlementStatus::Settled, SettlementStatus::Released] {
            assert_eq!(SettlementStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(SettlementStatus::parse("held"), None);
        assert_eq!(SettlementStatus::parse(""), None);
    }
}
