//! Trust and reputation of a provider from its evidence: contract outcomes (with the settled
//! price when settlement reported one) and its currently valid certificates (ARCHITECTURE.md §8).
//!
//! Everything here is a pure function of [`Evidence`], so a recompute is reproducible and the
//! table of cases below pins the exact numbers.
//!
//! # Formulas
//!
//! Only *counted* outcomes enter any component or count: an outcome where the consumer tenant is
//! the provider's own tenant (self-dealing) never counts.
//!
//! - **transaction** (the trust score, [`trust_score`]): recency-weighted successes under a
//!   Beta(1, 1) prior. An outcome `d` whole days old weighs `w = 2^(−d / 30)` ([`HALF_LIFE_DAYS`];
//!   outcomes from the last 24 hours weigh exactly 1, future-dated ones count as today);
//!   `transaction = (1 + Σ w·success) / (2 + Σ w)`. No history gives 0.5.
//! - **success_rate**: `successes / contracts` over the counted outcomes (0 with no history).
//! - **volume**: `min(1, ln(1 + successes) / ln(1 + 200))` — saturates at 200 successful contracts.
//! - **consistency**: over the last [`CONSISTENCY_WINDOW`] counted outcomes with success share
//!   `p`: `1 − 4·p·(1 − p)` (one minus the Bernoulli variance normalized to [0, 1]) when `p ≥ 0.5`,
//!   0 when `p < 0.5` (steady failure is not a consistency worth rewarding; the two branches meet
//!   at 0) and 0 with fewer than [`CONSISTENCY_MIN_OUTCOMES`] outcomes.
//! - **certification**: with `c ≥ 1` distinct (category, capability) pairs across the provider's
//!   valid certificates, `min(1, 0.8 + 0.05·(c − 1))`; 0 with none. Revoked, superseded,
//!   suspended, expired or not-yet-valid certificates, and those signed by a revoked CA key
//!   version, are not valid and count for nothing.
//!
//! `raw = 0.35·transaction + 0.25·success_rate + 0.15·volume + 0.15·consistency + 0.10·certification`
//!
//! # Anti-gaming flags
//!
//! Each raised flag changes the score as follows; penalties multiply first, then caps apply:
//!
//! | Flag | Raised when | Effect |
//! |---|---|---|
//! | `SELF_DEALING` | any outcome whose consumer tenant is the provider's tenant | those outcomes are excluded everywhere; score capped at 0.45 (BRONZE) |
//! | `CONCENTRATED_COUNTERPARTY` | ≥ 10 counted contracts and one consumer tenant holds more than half | score capped at 0.70 (below GOLD) |
//! | `BURST` | ≥ 10 counted contracts inside any 60-second window | score × 0.8 |
//! | `WASH_PRICES` | ≥ 10 settled counted contracts priced under 100 minor units, and they are more than half of the settled ones | score × 0.8 |
//!
//! `score = min(raw × Π penalties, Π caps…)`, clamped to [0, 1]. The tier uses the final score
//! and the counted contracts: PLATINUM ≥ 0.9 & ≥ 200, GOLD ≥ 0.75 & ≥ 50, SILVER ≥ 0.5 & ≥ 10,
//! else BRONZE.
//!
//! Scores are ratios, not money: they are computed in `f64`. Prices stay integer minor units.
#![allow(clippy::float_arithmetic)]

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Half-life of an outcome's weight in the trust score.
pub const HALF_LIFE_DAYS: f64 = 30.0;
/// Successful contracts at which the volume component reaches 1.
pub const VOLUME_SATURATION: u32 = 200;
/// How many recent outcomes the consistency component looks at.
pub const CONSISTENCY_WINDOW: usize = 20;
/// Fewer recent outcomes than this say nothing about consistency.
pub const CONSISTENCY_MIN_OUTCOMES: usize = 5;

/// Component weights of ARCHITECTURE.md §8.
pub const W_TRANSACTION: f64 = 0.35;
pub const W_SUCCESS_RATE: f64 = 0.25;
pub const W_VOLUME: f64 = 0.15;
pub const W_CONSISTENCY: f64 = 0.15;
pub const W_CERTIFICATION: f64 = 0.10;

/// Certification with one certified capability, and the step per further capability.
pub const CERTIFICATION_BASE: f64 = 0.8;
pub const CERTIFICATION_STEP: f64 = 0.05;

pub const SELF_DEALING_CAP: f64 = 0.45;
pub const CONCENTRATION_MIN_CONTRACTS: usize = 10;
pub const CONCENTRATION_CAP: f64 = 0.70;
pub const BURST_COUNT: usize = 10;
pub const BURST_WINDOW: time::Duration = time::Duration::seconds(60);
pub const BURST_PENALTY: f64 = 0.8;
/// A settled price below this many minor units is "tiny".
pub const TINY_PRICE_MINOR: i64 = 100;
pub const WASH_MIN_CONTRACTS: usize = 10;
pub const WASH_PENALTY: f64 = 0.8;

/// One contract outcome of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub success: bool,
    pub occurred_at: OffsetDateTime,
    pub consumer_tenant_id: String,
    pub provider_tenant_id: String,
    /// The settled price, once settlement reported it.
    pub price_minor: Option<i64>,
}

impl Outcome {
    fn self_dealt(&self) -> bool {
        self.consumer_tenant_id == self.provider_tenant_id
    }
}

/// Everything a provider's reputation is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub outcomes: &'a [Outcome],
    /// Distinct (category, capability) pairs across the provider's valid certificates.
    pub certified_capabilities: usize,
    pub now: OffsetDateTime,
}

/// The five components, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Components {
    pub transaction: f64,
    pub success_rate: f64,
    pub volume: f64,
    pub consistency: f64,
    pub certification: f64,
}

impl Components {
    /// The weighted sum of ARCHITECTURE.md §8, before flags.
    pub fn weighted(&self) -> f64 {
        W_TRANSACTION * self.transaction
            + W_SUCCESS_RATE * self.success_rate
            + W_VOLUME * self.volume
            + W_CONSISTENCY * self.consistency
            + W_CERTIFICATION * self.certification
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Flag {
    SelfDealing,
    ConcentratedCounterparty,
    Burst,
    WashPrices,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::SelfDealing => "SELF_DEALING",
            Flag::ConcentratedCounterparty => "CONCENTRATED_COUNTERPARTY",
            Flag::Burst => "BURST",
            Flag::WashPrices => "WASH_PRICES",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Flag::SelfDealing, Flag::ConcentratedCounterparty, Flag::Burst, Flag::WashPrices]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// Reputation tiers, lowest first (so `Ord` follows rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Bronze => "BRONZE",
            Tier::Silver => "SILVER",
            Tier::Gold => "GOLD",
            Tier::Platinum => "PLATINUM",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Tier::Bronze, Tier::Silver, Tier::Gold, Tier::Platinum].into_iter().find(|t| t.as_str() == text)
    }
}

/// The tier of a final score with `contracts` counted contracts.
pub fn tier(score: f64, contracts: u32) -> Tier {
    if score >= 0.9 && contracts >= 200 {
        Tier::Platinum
    } else if score >= 0.75 && contracts >= 50 {
        Tier::Gold
    } else if score >= 0.5 && contracts >= 10 {
        Tier::Silver
    } else {
        Tier::Bronze
    }
}

/// A provider's computed reputation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reputation {
    /// The final score in [0, 1], after flags.
    pub score: f64,
    pub components: Components,
    pub tier: Tier,
    /// Raised flags, sorted.
    pub flags: Vec<Flag>,
    /// Counted contracts (self-dealt ones excluded).
    pub contracts: u32,
    pub successes: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whole days from `at` to `now`, never negative.
fn age_days(at: OffsetDateTime, now: OffsetDateTime) -> f64 {
    let days = (now - at).whole_days().max(0);
    // Whole days up to 2^53 are exact in f64; ages are far below that.
    days as f64
}

/// The recency-weighted outcome score (the transaction component); see the module docs.
pub fn trust_score<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>, now: OffsetDateTime) -> f64 {
    let (mut good, mut total) = (0.0, 0.0);
    for outcome in outcomes {
        let weight = 0.5f64.powf(age_days(outcome.occurred_at, now) / HALF_LIFE_DAYS);
        total += weight;
        if outcome.success {
            good += weight;
        }
    }
    clamp01((1.0 + good) / (2.0 + total))
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

fn volume(successes: u32) -> f64 {
    clamp01((1.0 + f64::from(successes)).ln() / (1.0 + f64::from(VOLUME_SATURATION)).ln())
}

/// `outcomes` in chronological order.
fn consistency(outcomes: &[&Outcome]) -> f64 {
    let recent = &outcomes[outcomes.len().saturating_sub(CONSISTENCY_WINDOW)..];
    if recent.len() < CONSISTENCY_MIN_OUTCOMES {
        return 0.0;
    }
    let p = f64::from(count(recent.iter().filter(|o| o.success).count())) / f64::from(count(recent.len()));
    if p < 0.5 { 0.0 } else { clamp01(1.0 - 4.0 * p * (1.0 - p)) }
}

fn certification(capabilities: usize) -> f64 {
    if capabilities == 0 {
        return 0.0;
    }
    clamp01(CERTIFICATION_BASE + CERTIFICATION_STEP * f64::from(count(capabilities - 1)))
}

/// Flags raised by the counted outcomes (chronological), plus `SELF_DEALING` if any was excluded.
fn flags(counted: &[&Outcome], self_dealt: bool) -> Vec<Flag> {
    let mut flags = Vec::new();
    if self_dealt {
        flags.push(Flag::SelfDealing);
    }
    if counted.len() >= CONCENTRATION_MIN_CONTRACTS {
        let mut per_consumer: HashMap<&str, usize> = HashMap::new();
        for o in counted {
            *per_consumer.entry(o.consumer_tenant_id.as_str()).or_default() += 1;
        }
        let top = per_consumer.values().copied().max().unwrap_or(0);
        if top.saturating_mul(2) > counted.len() {
            flags.push(Flag::ConcentratedCounterparty);
        }
    }
    // Sliding window over the time-sorted outcomes.
    let mut start = 0;
    for end in 0..counted.len() {
        while counted[end].occurred_at - counted[start].occurred_at >= BURST_WINDOW {
            start += 1;
        }
        if end + 1 - start >= BURST_COUNT {
            flags.push(Flag::Burst);
            break;
        }
    }
    let settled: Vec<i64> = counted.iter().filter_map(|o| o.price_minor).collect();
    let tiny = settled.iter().filter(|&&p| p < TINY_PRICE_MINOR).count();
    if tiny >= WASH_MIN_CONTRACTS && tiny.saturating_mul(2) > settled.len() {
        flags.push(Flag::WashPrices);
    }
    flags.sort();
    flags
}

/// The reputation of ARCHITECTURE.md §8: the one function every recompute goes through.
pub fn reputation(evidence: Evidence<'_>) -> Reputation {
    let mut counted: Vec<&Outcome> = evidence.outcomes.iter().filter(|o| !o.self_dealt()).collect();
    counted.sort_by_key(|o| o.occurred_at);
    let self_dealt = counted.len() < evidence.outcomes.len();
    let contracts = count(counted.len());
    let successes = count(counted.iter().filter(|o| o.success).count());
    let components = Components {
        transaction: trust_score(counted.iter().copied(), evidence.now),
        success_rate: if contracts == 0 { 0.0 } else { f64::from(successes) / f64::from(contracts) },
        volume: volume(successes),
        consistency: consistency(&counted),
        certification: certification(evidence.certified_capabilities),
    };
    let flags = flags(&counted, self_dealt);
    let mut score = components.weighted();
    // Penalties first, then caps, so a capped score is not penalized below its cap twice.
    for flag in &flags {
        match flag {
            Flag::Burst => score *= BURST_PENALTY,
            Flag::WashPrices => score *= WASH_PENALTY,
            Flag::SelfDealing | Flag::ConcentratedCounterparty => {}
        }
    }
    for flag in &flags {
        match flag {
            Flag::SelfDealing => score = score.min(SELF_DEALING_CAP),
            Flag::ConcentratedCounterparty => score = score.min(CONCENTRATION_CAP),
            Flag::Burst | Flag::WashPrices => {}
        }
    }
    let score = clamp01(score);
    Reputation { score, components, tier: tier(score, contracts), flags, contracts, successes }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
    const PROVIDER_TENANT: &str = "tenant_provider";

    /// `n` outcomes today, `spacing` apart ending at NOW, each with its own consumer.
    fn run(n: usize, success: bool, spacing: time::Duration) -> Vec<Outcome> {
        (0..n)
            .map(|i| Outcome {
                success,
                occurred_at: NOW - spacing * u32::try_from(i).unwrap(),
                consumer_tenant_id: format!("tenant_c{i}"),
                provider_tenant_id: PROVIDER_TENANT.into(),
                price_minor: None,
            })
            .collect()
    }

    fn calm(n: usize, success: bool) -> Vec<Outcome> {
        run(n, success, time::Duration::minutes(2))
    }

    fn of(outcomes: &[Outcome], capabilities: usize) -> Reputation {
        reputation(Evidence { outcomes, certified_capabilities: capabilities, now: NOW })
    }

    fn ln_ratio(successes: f64) -> f64 {
        (1.0 + successes).ln() / 201f64.ln()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Name, outcomes, certified capabilities, expected score, tier and flags.
    type Case = (&'static str, Vec<Outcome>, usize, f64, Tier, Vec<Flag>);

    #[test]
    fn the_table_of_cases_gives_exact_scores_tiers_and_flags() {
        let mut nine_one = calm(10, true);
        nine_one[0].success = false;
        let mut self_dealt = calm(50, true);
        for o in self_dealt.iter_mut().take(5) {
            o.consumer_tenant_id = PROVIDER_TENANT.into();
        }
        let mut concentrated = calm(20, true);
        for o in concentrated.iter_mut().take(11) {
            o.consumer_tenant_id = "tenant_whale".into();
        }
        let mut half = calm(20, true);
        for o in half.iter_mut().take(10) {
            o.consumer_tenant_id = "tenant_whale".into();
        }
        let mut wash = calm(10, true);
        for o in &mut wash {
            o.price_minor = Some(50);
        }
        let mut fair_prices = calm(10, true);
        for o in &mut fair_prices {
            o.price_minor = Some(10_000);
        }
        let ten_successes = 0.35 * 11.0 / 12.0 + 0.25 + 0.15 * ln_ratio(10.0) + 0.15;
        let gold = 0.35 * 51.0 / 52.0 + 0.25 + 0.15 * ln_ratio(50.0) + 0.15 + 0.10 * 0.95;
        let cases: Vec<Case> = vec![
            ("no history", vec![], 0, 0.175, Tier::Bronze, vec![]),
            ("no history, one capability", vec![], 1, 0.255, Tier::Bronze, vec![]),
            ("no history, many capabilities", vec![], 9, 0.275, Tier::Bronze, vec![]),
            ("ten successes", calm(10, true), 0, ten_successes, Tier::Silver, vec![]),
            (
                "nine successes, one failure",
                nine_one,
                0,
                0.35 * 10.0 / 12.0 + 0.25 * 0.9 + 0.15 * ln_ratio(9.0) + 0.15 * 0.64,
                Tier::Silver,
                vec![],
            ),
            ("ten failures", calm(10, false), 0, 0.35 / 12.0, Tier::Bronze, vec![]),
            (
                "four successes: too few for consistency",
                calm(4, true),
                0,
                0.35 * 5.0 / 6.0 + 0.25 + 0.15 * ln_ratio(4.0),
                Tier::Bronze,
                vec![],
            ),
            ("fifty successes, four capabilities", calm(50, true), 4, gold, Tier::Gold, vec![]),
            (
                "two hundred successes, five capabilities",
                calm(200, true),
                5,
                0.35 * 201.0 / 202.0 + 0.25 + 0.15 + 0.15 + 0.10,
                Tier::Platinum,
                vec![],
            ),
            (
                "only self-dealt",
                run(10, true, time::Duration::minutes(2))
                    .into_iter()
                    .map(|mut o| {
                        o.consumer_tenant_id = PROVIDER_TENANT.into();
                        o
                    })
                    .collect(),
                0,
                0.175,
                Tier::Bronze,
                vec![Flag::SelfDealing],
            ),
            ("self-dealing among honest deals", self_dealt, 4, SELF_DEALING_CAP, Tier::Bronze, vec![Flag::SelfDealing]),
            (
                "one consumer holds 11 of 20",
                concentrated,
                0,
                CONCENTRATION_CAP,
                Tier::Silver,
                vec![Flag::ConcentratedCounterparty],
            ),
            (
                "one consumer holds exactly half",
                half,
                0,
                0.35 * 21.0 / 22.0 + 0.25 + 0.15 * ln_ratio(20.0) + 0.15,
                Tier::Silver,
                vec![],
            ),
            (
                "ten contracts in 45 seconds",
                run(10, true, time::Duration::seconds(5)),
                0,
                ten_successes * 0.8,
                Tier::Silver,
                vec![Flag::Burst],
            ),
            (
                "nine contracts in 40 seconds",
                run(9, true, time::Duration::seconds(5)),
                0,
                0.35 * 10.0 / 11.0 + 0.25 + 0.15 * ln_ratio(9.0) + 0.15,
                Tier::Bronze,
                vec![],
            ),
            ("ten tiny prices", wash, 0, ten_successes * 0.8, Tier::Silver, vec![Flag::WashPrices]),
            ("ten fair prices", fair_prices, 0, ten_successes, Tier::Silver, vec![]),
        ];
        for (name, outcomes, capabilities, score, tier, flags) in cases {
            let r = of(&outcomes, capabilities);
            assert!(close(r.score, score), "{name}: score {} != {score}", r.score);
            assert_eq!(r.tier, tier, "{name}");
            assert_eq!(r.flags, flags, "{name}");
        }
    }

    #[test]
    fn self_dealt_contracts_count_nowhere() {
        let mut outcomes = calm(12, true);
        outcomes[0].consumer_tenant_id = PROVIDER_TENANT.into();
        let r = of(&outcomes, 0);
        assert_eq!((r.contracts, r.successes), (11, 11));
    }

    #[test]
    fn older_outcomes_weigh_less_with_a_thirty_day_half_life() {
        let old_failure = Outcome {
            success: false,
            occurred_at: NOW - time::Duration::days(30),
            consumer_tenant_id: "tenant_c".into(),
            provider_tenant_id: PROVIDER_TENANT.into(),
            price_minor: None,
        };
        let fresh_success = Outcome { success: true, occurred_at: NOW, ..old_failure.clone() };
        // Weights 0.5 and 1: (1 + 1) / (2 + 1.5).
        assert!(close(trust_score([&old_failure, &fresh_success], NOW), 2.0 / 3.5));
        // Within the same day the weight is exactly 1; a future date counts as today.
        let later_today = Outcome { occurred_at: NOW - time::Duration::hours(23), ..fresh_success.clone() };
        let future = Outcome { occurred_at: NOW + time::Duration::days(3), ..fresh_success.clone() };
        assert!(close(trust_score([&later_today, &future], NOW), 3.0 / 4.0));
        assert!(close(trust_score([], NOW), 0.5));
    }

    #[test]
    fn tiers_follow_both_thresholds() {
        let cases = [
            (0.95, 200, Tier::Platinum),
            (0.95, 199, Tier::Gold),
            (0.9, 200, Tier::Platinum),
            (0.8999, 1000, Tier::Gold),
            (0.75, 50, Tier::Gold),
            (0.75, 49, Tier::Silver),
            (0.7499, 500, Tier::Silver),
            (0.5, 10, Tier::Silver),
            (0.5, 9, Tier::Bronze),
            (0.4999, 10, Tier::Bronze),
            (1.0, 0, Tier::Bronze),
        ];
        for (score, contracts, expected) in cases {
            assert_eq!(tier(score, contracts), expected, "{score} with {contracts}");
        }
    }

    #[test]
    fn names_round_trip() {
        for t in [Tier::Bronze, Tier::Silver, Tier::Gold, Tier::Platinum] {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        for f in [Flag::SelfDealing, Flag::ConcentratedCounterparty, Flag::Burst, Flag::WashPrices] {
            assert_eq!(Flag::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(f.as_str()));
        }
        assert_eq!(Tier::parse("DIAMOND"), None);
    }

    fn arb_outcome() -> impl Strategy<Value = Outcome> {
        (any::<bool>(), 0i64..400 * 86_400, 0u8..6, prop::option::of(0i64..1_000_000)).prop_map(
            |(success, age, consumer, price)| Outcome {
                success,
                occurred_at: NOW - time::Duration::seconds(age),
                consumer_tenant_id: format!("tenant_{consumer}"),
                // Consumer 0 is the provider itself.
                provider_tenant_id: "tenant_0".into(),
                price_minor: price,
            },
        )
    }

    proptest! {
        #[test]
        fn every_score_and_component_stays_in_the_unit_interval(
            outcomes in prop::collection::vec(arb_outcome(), 0..300),
            capabilities in 0usize..40,
        ) {
            let r = of(&outcomes, capabilities);
            let c = r.components;
            for x in [r.score, c.transaction, c.success_rate, c.volume, c.consistency, c.certification] {
                prop_assert!((0.0..=1.0).contains(&x), "{x}");
            }
            prop_assert!(r.score <= c.weighted() + 1e-12, "flags never raise a score");
            prop_assert_eq!(r.tier, tier(r.score, r.contracts));
        }

        #[test]
        fn the_tier_is_monotonic_in_score_and_count(
            s1 in 0.0f64..=1.0, s2 in 0.0f64..=1.0, n1 in 0u32..500, n2 in 0u32..500,
        ) {
            let (lo_s, hi_s) = if s1 <= s2 { (s1, s2) } else { (s2, s1) };
            let (lo_n, hi_n) = (n1.min(n2), n1.max(n2));
            prop_assert!(tier(lo_s, lo_n) <= tier(hi_s, hi_n));
            prop_assert!(tier(lo_s, hi_n) <= tier(hi_s, hi_n));
            prop_assert!(tier(hi_s, lo_n) <= tier(hi_s, hi_n));
        }

        #[test]
        fn a_fresh_success_never_lowers_trust_and_a_fresh_failure_never_raises_it(
            outcomes in prop::collection::vec(arb_outcome(), 0..100),
        ) {
            let before = trust_score(&outcomes, NOW);
            let mut with = outcomes.clone();
            with.push(Outcome { success: true, occurred_at: NOW, ..arb_fixed() });
            prop_assert!(trust_score(&with, NOW) >= before);
            let mut with = outcomes;
            with.push(Outcome { success: false, occurred_at: NOW, ..arb_fixed() });
            prop_assert!(trust_score(&with, NOW) <= before);
        }

        #[test]
        fn losing_certified_capabilities_never_raises_the_score(
            outcomes in prop::collection::vec(arb_outcome(), 0..100),
            capabilities in 1usize..10,
        ) {
            prop_assert!(of(&outcomes, 0).score <= of(&outcomes, capabilities).score);
        }
    }

    fn arb_fixed() -> Outcome {
        Outcome {
            success: true,
            occurred_at: NOW,
            consumer_tenant_id: "tenant_new".into(),
            provider_tenant_id: "tenant_0".into(),
            price_minor: None,
        }
    }
}
