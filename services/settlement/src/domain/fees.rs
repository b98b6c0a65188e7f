//! The fee policy: how a settled price splits into provider payout, platform fee and protocol
//! fee (ARCHITECTURE.md §6; conformance data in `tests/vectors/fees.json`, a copy of the shared vectors).
//!
//! Each fee is computed from integer minor units with one rounding, half-even
//! ([`aex_types::div_round_half_even`]); the payout is what remains, so the three parts sum to
//! the price exactly.

use aex_types::{Money, MoneyError, div_round_half_even};
use serde::Serialize;

/// Basis points in one whole.
const BPS_SCALE: i128 = 10_000;

/// One protocol-fee tier: applies when the provider's 30-day volume is at least
/// `min_volume_30d_minor` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolTier {
    pub tier: &'static str,
    pub min_volume_30d_minor: i64,
    pub bps: u32,
    pub fixed_minor: i64,
}

/// A versioned fee policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeePolicy {
    pub version: &'static str,
    pub rounding: &'static str,
    pub platform_fee_bps: u32,
    /// Highest threshold first.
    pub protocol_fee_tiers: Vec<ProtocolTier>,
}

/// How one price splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSplit {
    pub gross: Money,
    pub platform_fee: Money,
    pub protocol_fee: Money,
    pub net: Money,
    pub tier: &'static str,
}

/// Why a price cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    #[error("a price must be positive")]
    NonPositivePrice,
    #[error("the fees on this price exceed the price")]
    BelowMinimumFee { tier: &'static str },
    #[error("amount arithmetic overflowed")]
    Overflow,
}

impl FeeError {
    pub fn code(&self) -> &'static str {
        match self {
            FeeError::NonPositivePrice => "INVALID_AMOUNT",
            FeeError::BelowMinimumFee { .. } => "AMOUNT_BELOW_MINIMUM_FEE",
            FeeError::Overflow => "AMOUNT_OVERFLOW",
        }
    }
}

impl From<MoneyError> for FeeError {
    fn from(_: MoneyError) -> Self {
        FeeError::Overflow
    }
}

impl FeePolicy {
    /// The policy in force since November 2026: platform 15 %; protocol 2.8 % + 0.28,
    /// 2.0 % + 0.20 from 10k, 1.2 % + 0.10 from 100k, 0.8 % + 0.05 from 1M of 30-day volume.
    pub fn current() -> Self {
        Self {
            version: "2026-11-aex-1",
            rounding: "half-even on each fee computed from integer minor units; net = gross - platform - protocol",
            platform_fee_bps: 1500,
            protocol_fee_tiers: vec![
                ProtocolTier { tier: "enterprise", min_volume_30d_minor: 100_000_000, bps: 80, fixed_minor: 5 },
                ProtocolTier { tier: "scale", min_volume_30d_minor: 10_000_000, bps: 120, fixed_minor: 10 },
                ProtocolTier { tier: "growth", min_volume_30d_minor: 1_000_000, bps: 200, fixed_minor: 20 },
                ProtocolTier { tier: "starter", min_volume_30d_minor: 0, bps: 280, fixed_minor: 28 },
            ],
        }
    }

    /// The tier for a provider whose settled volume in the last 30 days (this deal excluded)
    /// is `volume_30d_minor`.
    pub fn tier_for(&self, volume_30d_minor: i64) -> &ProtocolTier {
        self.protocol_fee_tiers
            .iter()
            .find(|t| volume_30d_minor >= t.min_volume_30d_minor)
            .or(self.protocol_fee_tiers.last())
            .unwrap_or(&STARTER_FALLBACK)
    }

    /// Splits `gross` for a provider with `volume_30d_minor` of recent volume.
    pub fn split(&self, gross: Money, volume_30d_minor: i64) -> Result<FeeSplit, FeeError> {
        if !gross.is_positive() {
            return Err(FeeError::NonPositivePrice);
        }
        let tier = self.tier_for(volume_30d_minor);
        let currency = gross.currency();
        let platform = bps_of(gross, self.platform_fee_bps)?;
        let protocol = bps_of(gross, tier.bps)?.checked_add(Money::from_minor(tier.fixed_minor, currency))?;
        let fees = platform.checked_add(protocol)?;
        let net = gross.checked_sub(fees)?;
        if net.is_negative() {
            return Err(FeeError::BelowMinimumFee { tier: tier.tier });
        }
        Ok(FeeSplit { gross, platform_fee: platform, protocol_fee: protocol, net, tier: tier.tier })
    }
}

static STARTER_FALLBACK: ProtocolTier =
    ProtocolTier { tier: "starter", min_volume_30d_minor: 0, bps: 280, fixed_minor: 28 };

fn bps_of(amount: Money, bps: u32) -> Result<Money, FeeError> {
    let product = i128::from(amount.minor()).checked_mul(i128::from(bps)).ok_or(FeeError::Overflow)?;
    let rounded = div_round_half_even(product, BPS_SCALE).ok_or(FeeError::Overflow)?;
    Ok(Money::from_minor_i128(rounded, amount.currency())?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aex_types::Currency;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        policy: serde_json::Value,
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        gross_minor: i64,
        currency: String,
        provider_volume_30d_minor: i64,
        expected: Expected,
        note: String,
    }

    #[derive(Deserialize)]
    struct Expected {
        tier: String,
        platform_fee_minor: Option<i64>,
        protocol_fee_minor: Option<i64>,
        net_minor: Option<i64>,
        error: Option<String>,
    }

    fn vectors() -> Vectors {
        // The project's copy of the conformance data, so a clone anywhere tests against it.
        serde_json::from_str(include_str!("../../tests/vectors/fees.json")).expect("fees.json parses")
    }

    #[test]
    fn the_policy_is_the_one_the_vectors_describe() {
        let vectors = vectors();
        let policy = serde_json::to_value(FeePolicy::current()).unwrap();
        assert_eq!(policy["version"], vectors.policy["version"]);
        assert_eq!(policy["platform_fee_bps"], vectors.policy["platform_fee_bps"]);
        assert_eq!(policy["protocol_fee_tiers"], vectors.policy["protocol_fee_tiers"]);
    }

    #[test]
    fn every_conformance_vector_passes() {
        let policy = FeePolicy::current();
        let vectors = vectors();
        assert!(vectors.cases.len() >= 19);
        for case in &vectors.cases {
            let currency: Currency = case.currency.parse().unwrap();
            let gross = Money::from_minor(case.gross_minor, currency);
            let result = policy.split(gross, case.provider_volume_30d_minor);
            assert_eq!(policy.tier_for(case.provider_volume_30d_minor).tier, case.expected.tier, "{}", case.note);
            match (&case.expected.error, result) {
                (Some(code), Err(error)) => assert_eq!(error.code(), code, "{}", case.note),
                (None, Ok(split)) => {
                    assert_eq!(Some(split.platform_fee.minor()), case.expected.platform_fee_minor, "{}", case.note);
                    assert_eq!(Some(split.protocol_fee.minor()), case.expected.protocol_fee_minor, "{}", case.note);
                    assert_eq!(Some(split.net.minor()), case.expected.net_minor, "{}", case.note);
                    assert_eq!(split.tier, case.expected.tier, "{}", case.note);
                }
                (expected, got) => panic!("{}: expected {expected:?}, got {got:?}", case.note),
            }
        }
    }

    #[test]
    fn zero_and_negative_prices_are_refused() {
        let policy = FeePolicy::current();
        for minor in [0, -1, i64::MIN] {
            assert_eq!(policy.split(Money::from_minor(minor, Currency::USD), 0), Err(FeeError::NonPositivePrice));
        }
    }

    proptest! {
        #[test]
        fn the_parts_sum_to_the_price(gross in 1i64..=i64::MAX, volume in 0i64..=1_000_000_000) {
            let policy = FeePolicy::current();
            if let Ok(split) = policy.split(Money::from_minor(gross, Currency::USD), volume) {
                let total = i128::from(split.platform_fee.minor())
                    + i128::from(split.protocol_fee.minor())
                    + i128::from(split.net.minor());
                prop_assert_eq!(total, i128::from(gross));
                prop_assert!(split.platform_fee.minor() >= 0);
                prop_assert!(split.protocol_fee.minor() >= 0);
                prop_assert!(split.net.minor() >= 0);
            } else {
                // Only tiny prices (below the fixed fee plus rounding) are refused.
                prop_assert!(gross < 100);
            }
        }

        #[test]
        fn a_higher_volume_never_raises_the_protocol_fee(gross in 100i64..1_000_000_000_000, a in 0i64..300_000_000, b in 0i64..300_000_000) {
            let policy = FeePolicy::current();
            let (low, high) = (a.min(b), a.max(b));
            let at_low = policy.split(Money::from_minor(gross, Currency::USD), low).unwrap();
            let at_high = policy.split(Money::from_minor(gross, Currency::USD), high).unwrap();
            prop_assert!(at_high.protocol_fee.minor() <= at_low.protocol_fee.minor());
        }
    }
}
