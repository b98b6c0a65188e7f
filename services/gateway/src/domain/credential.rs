//! Whether a stored credential may be used now: key status, expiry, rotation grace and the
//! tenant's status, in the order a caller is told about them.

use super::tenant::TenantStatus;
use aex_types::Timestamp;

/// A key's stored status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Revoked => "REVOKED",
        }
    }

    /// Unknown values are treated as revoked: fail closed.
    pub fn from_db(value: &str) -> Self {
        if value == "ACTIVE" { Self::Active } else { Self::Revoked }
    }
}

/// Why a known credential is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Revoked,
    Expired,
    /// Rotated, and the grace period has ended.
    Superseded,
    TenantSuspended,
}

/// What decides whether a key works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValidity {
    pub status: KeyStatus,
    pub expires_at: Option<Timestamp>,
    pub grace_until: Option<Timestamp>,
    pub tenant_status: TenantStatus,
}

impl KeyValidity {
    /// Key problems first (the key is what the caller presented), then the tenant.
    pub fn check(&self, now: Timestamp) -> Result<(), Refusal> {
        if self.status == KeyStatus::Revoked {
            return Err(Refusal::Revoked);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(Refusal::Expired);
        }
        if self.grace_until.is_some_and(|at| at <= now) {
            return Err(Refusal::Superseded);
        }
        if self.tenant_status == TenantStatus::Suspended {
            return Err(Refusal::TenantSuspended);
        }
        Ok(())
    }

    /// Where the key's display status differs from the stored one (an expired or superseded
    /// key is still `ACTIVE` in the table).
    pub fn display_status(&self, now: Timestamp) -> &'static str {
        match self.check(now) {
            Err(Refusal::Revoked) => "REVOKED",
            Err(Refusal::Expired) => "EXPIRED",
            Err(Refusal::Superseded) => "ROTATED",
            Ok(()) | Err(Refusal::TenantSuspended) => "ACTIVE",
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use time::Duration;

    fn active() -> KeyValidity {
        KeyValidity {
            status: KeyStatus::Active,
            expires_at: None,
            grace_until: None,
            tenant_status: TenantStatus::Active,
        }
    }

    fn after(now: Timestamp, seconds: i64) -> Timestamp {
        now.checked_add(Duration::seconds(seconds)).expect("in range")
    }

    #[test]
    fn each_refusal() {
        let now = Timestamp::now();
        assert_eq!(active().check(now), Ok(()));
        assert_eq!(KeyValidity { status: KeyStatus::Revoked, ..active() }.check(now), Err(Refusal::Revoked));
        assert_eq!(KeyValidity { expires_at: Some(now), ..active() }.check(now), Err(Refusal::Expired));
        assert_eq!(KeyValidity { expires_at: Some(after(now, 1)), ..active() }.check(now), Ok(()));
        assert_eq!(KeyValidity { grace_until: Some(after(now, -1)), ..active() }.check(now), Err(Refusal::Superseded));
        assert_eq!(KeyValidity { grace_until: Some(after(now, 60)), ..active() }.check(now), Ok(()));
        assert_eq!(
            KeyValidity { tenant_status: TenantStatus::Suspended, ..active() }.check(now),
            Err(Refusal::TenantSuspended)
        );
        assert_eq!(
            KeyValidity { status: KeyStatus::Revoked, tenant_status: TenantStatus::Suspended, ..active() }.check(now),
            Err(Refusal::Revoked),
            "the key's own problem is reported first"
        );
    }

    #[test]
    fn unknown_status_fails_closed() {
        assert_eq!(KeyStatus::from_db("ACTIVE"), KeyStatus::Active);
        assert_eq!(KeyStatus::from_db(""), KeyStatus::Revoked);
    }
}
