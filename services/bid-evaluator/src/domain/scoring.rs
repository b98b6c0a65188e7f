//! Bid scoring, disqualification and ranking (ARCHITECTURE.md §7).
//!
//! Each valid bid gets six component scores in [0, 1] — price, trust, confidence, sample, SLA,
//! certification — combined with the strategy's weights. A component whose data is unavailable
//! (certauth down) is never given a default: it is listed in `degraded`, and its weight is
//! spread over the others in proportion. Ties break by price, then bid time, then bid id, so
//! the ranking does not depend on the order bids arrive in.
//!
//! Scores are ratios, not money: they are computed in `f64`. Prices stay integer minor units.
#![allow(clippy::float_arithmetic)]

use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// The weighting of the six components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Balanced,
    LowestPrice,
    BestQuality,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "balanced" => Some(Strategy::Balanced),
            "lowest_price" => Some(Strategy::LowestPrice),
            "best_quality" => Some(Strategy::BestQuality),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Balanced => "balanced",
            Strategy::LowestPrice => "lowest_price",
            Strategy::BestQuality => "best_quality",
        }
    }

    /// Weights in component order: price, trust, confidence, sample, SLA, certification.
    pub fn weights(self) -> [f64; 6] {
        match self {
            Strategy::Balanced => [0.25, 0.25, 0.15, 0.10, 0.10, 0.15],
            Strategy::LowestPrice => [0.45, 0.15, 0.10, 0.05, 0.10, 0.15],
            Strategy::BestQuality => [0.10, 0.30, 0.20, 0.10, 0.10, 0.20],
        }
    }
}

/// One scored aspect of a bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Price,
    Trust,
    Confidence,
    Sample,
    Sla,
    Certification,
}

pub const COMPONENTS: [Component; 6] = [
    Component::Price,
    Component::Trust,
    Component::Confidence,
    Component::Sample,
    Component::Sla,
    Component::Certification,
];

/// Trust tiers, lowest first (ARCHITECTURE.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrustTier {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl TrustTier {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "BRONZE" => Some(TrustTier::Bronze),
            "SILVER" => Some(TrustTier::Silver),
            "GOLD" => Some(TrustTier::Gold),
            "PLATINUM" => Some(TrustTier::Platinum),
            _ => None,
        }
    }
}

/// What the work asks of its bids.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkTerms {
    /// Budget ceiling in minor units; also the price scale.
    pub max_price_minor: i64,
    pub max_latency_ms: Option<u64>,
    pub min_trust_tier: Option<TrustTier>,
    pub required_capabilities: Vec<String>,
    /// Evaluation time, Unix milliseconds.
    pub now_ms: i64,
}

/// One sealed bid.
#[derive(Debug, Clone, PartialEq)]
pub struct BidInput {
    pub bid_id: String,
    pub provider_id: String,
    pub price_minor: i64,
    /// The provider's own confidence, 0..=1.
    pub confidence: f64,
    pub has_sample: bool,
    pub estimated_latency_ms: u64,
    pub expires_at_ms: Option<i64>,
    pub submitted_at_ms: i64,
}

/// What certauth says about a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustFacts {
    /// 0..=1.
    pub score: f64,
    pub tier: TrustTier,
}

/// Facts from other services; `None` means the source was unavailable.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub trust: Option<HashMap<String, TrustFacts>>,
    /// Certified capabilities per provider (valid certificates only).
    pub certifications: Option<HashMap<String, HashSet<String>>>,
}

/// Why a bid cannot win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Disqualification {
    OverBudget,
    Expired,
    SlaLatencyExceeded,
    BelowMinTrustTier,
    MissingCertifiedCapability,
    InvalidBid,
    /// The work requires a trust tier, and trust data is unavailable: eligibility cannot be
    /// established, so the bid is not ranked (a new evaluation can be requested later).
    TrustUnverifiable,
    /// The work requires certified capabilities, and certification data is unavailable.
    CertificationUnverifiable,
}

/// Component scores of one bid; `None` for a degraded component.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub price: Option<f64>,
    pub trust: Option<f64>,
    pub confidence: Option<f64>,
    pub mvp_sample: Option<f64>,
    pub sla: Option<f64>,
    pub certification: Option<f64>,
}

impl Scores {
    fn as_array(&self) -> [Option<f64>; 6] {
        [self.price, self.trust, self.confidence, self.mvp_sample, self.sla, self.certification]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedBid {
    pub rank: usize,
    pub bid_id: String,
    pub provider_id: String,
    pub price_minor: i64,
    pub total_score: f64,
    pub scores: Scores,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisqualifiedBid {
    pub bid_id: String,
    pub provider_id: String,
    pub reason: Disqualification,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    pub strategy: Strategy,
    pub ranked: Vec<RankedBid>,
    pub disqualified: Vec<DisqualifiedBid>,
    /// Components left out for lack of data, with their weight spread over the others.
    pub degraded: Vec<Component>,
    /// The weights actually applied (summing to 1).
    pub weights: [f64; 6],
}

/// The first rule a bid breaks, if any.
fn disqualify(bid: &BidInput, terms: &WorkTerms, context: &Context) -> Option<Disqualification> {
    if bid.price_minor <= 0 || !(0.0..=1.0).contains(&bid.confidence) {
        return Some(Disqualification::InvalidBid);
    }
    if bid.price_minor > terms.max_price_minor {
        return Some(Disqualification::OverBudget);
    }
    if bid.expires_at_ms.is_some_and(|at| at <= terms.now_ms) {
        return Some(Disqualification::Expired);
    }
    if terms.max_latency_ms.is_some_and(|limit| bid.estimated_latency_ms > limit) {
        return Some(Disqualification::SlaLatencyExceeded);
    }
    if let Some(minimum) = terms.min_trust_tier {
        match &context.trust {
            None => return Some(Disqualification::TrustUnverifiable),
            Some(trust) => {
                let tier = trust.get(&bid.provider_id).map(|t| t.tier).unwrap_or(TrustTier::Bronze);
                if tier < minimum {
                    return Some(Disqualification::BelowMinTrustTier);
                }
            }
        }
    }
    if !terms.required_capabilities.is_empty() {
        match &context.certifications {
            None => return Some(Disqualification::CertificationUnverifiable),
            Some(certified) => {
                let held = certified.get(&bid.provider_id);
                let all = terms.required_capabilities.iter().all(|c| held.is_some_and(|h| h.contains(c)));
                if !all {
                    return Some(Disqualification::MissingCertifiedCapability);
                }
            }
        }
    }
    None
}

fn score(bid: &BidInput, terms: &WorkTerms, context: &Context, latency_scale: u64) -> Scores {
    let ratio = |num: f64, den: f64| if den > 0.0 { (1.0 - num / den).clamp(0.0, 1.0) } else { 0.0 };
    let price = ratio(bid.price_minor as f64, terms.max_price_minor as f64);
    let sla = ratio(bid.estimated_latency_ms as f64, terms.max_latency_ms.unwrap_or(latency_scale) as f64);
    let trust = context.trust.as_ref().map(|t| t.get(&bid.provider_id).map(|f| f.score.clamp(0.0, 1.0)).unwrap_or(0.0));
    let certification = context.certifications.as_ref().map(|certified| {
        let held = certified.get(&bid.provider_id);
        if terms.required_capabilities.is_empty() {
            if held.is_some_and(|h| !h.is_empty()) { 1.0 } else { 0.0 }
        } else {
            let have = terms.required_capabilities.iter().filter(|c| held.is_some_and(|h| h.contains(*c))).count();
            have as f64 / terms.required_capabilities.len() as f64
        }
    });
    Scores {
        price: Some(price),
        trust,
        confidence: Some(bid.confidence.clamp(0.0, 1.0)),
        mvp_sample: Some(if bid.has_sample { 0.8 } else { 0.5 }),
        sla: Some(sla),
        certification,
    }
}

/// The strategy's weights with unavailable components removed and the rest scaled to sum to 1.
pub fn renormalized(strategy: Strategy, degraded: &[Component]) -> [f64; 6] {
    let mut weights = strategy.weights();
    for (index, component) in COMPONENTS.iter().enumerate() {
        if degraded.contains(component) {
            weights[index] = 0.0;
        }
    }
    let total: f64 = weights.iter().sum();
    if total > 0.0 {
        for weight in &mut weights {
            *weight /= total;
        }
    }
    weights
}

/// Evaluates `bids` for `terms` under `strategy`.
pub fn evaluate(strategy: Strategy, terms: &WorkTerms, bids: &[BidInput], context: &Context) -> Ranking {
    let mut degraded = Vec::new();
    if context.trust.is_none() {
        degraded.push(Component::Trust);
    }
    if context.certifications.is_none() {
        degraded.push(Component::Certification);
    }
    let weights = renormalized(strategy, &degraded);

    let mut valid: Vec<&BidInput> = Vec::with_capacity(bids.len());
    let mut disqualified = Vec::new();
    for bid in bids {
        match disqualify(bid, terms, context) {
            Some(reason) => disqualified.push(DisqualifiedBid {
                bid_id: bid.bid_id.clone(),
                provider_id: bid.provider_id.clone(),
                reason,
            }),
            None => valid.push(bid),
        }
    }
    // Without a latency constraint, latency is scored against the slowest valid bid.
    let latency_scale = valid.iter().map(|b| b.estimated_latency_ms).max().unwrap_or(0);
    let mut ranked: Vec<RankedBid> = valid
        .into_iter()
        .map(|bid| {
            let scores = score(bid, terms, context, latency_scale);
            let total = scores.as_array().iter().zip(weights).map(|(s, w)| s.unwrap_or(0.0) * w).sum::<f64>();
            RankedBid {
                rank: 0,
                bid_id: bid.bid_id.clone(),
                provider_id: bid.provider_id.clone(),
                price_minor: bid.price_minor,
                total_score: total.clamp(0.0, 1.0),
                scores,
            }
        })
        .collect();
    let submitted: HashMap<&str, i64> = bids.iter().map(|b| (b.bid_id.as_str(), b.submitted_at_ms)).collect();
    ranked.sort_by(|a, b| {
        b.total_score
            .partial_cmp(&a.total_score)
            .unwrap_or(Ordering::Equal)
            .then(a.price_minor.cmp(&b.price_minor))
            .then(submitted.get(a.bid_id.as_str()).cmp(&submitted.get(b.bid_id.as_str())))
            .then(a.bid_id.cmp(&b.bid_id))
    });
    for (index, bid) in ranked.iter_mut().enumerate() {
        bid.rank = index + 1;
    }
    disqualified.sort_by(|a, b| a.bid_id.cmp(&b.bid_id));
    Ranking { strategy, ranked, disqualified, degraded, weights }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};
    use proptest::strategy::Strategy as _;

    fn terms() -> WorkTerms {
        WorkTerms {
            max_price_minor: 10_000,
            max_latency_ms: Some(1_000),
            min_trust_tier: None,
            required_capabilities: vec![],
            now_ms: 1_000_000,
        }
    }

    fn bid(id: &str, provider: &str, price: i64, confidence: f64, sample: bool, latency: u64) -> BidInput {
        BidInput {
            bid_id: id.into(),
            provider_id: provider.into(),
            price_minor: price,
            confidence,
            has_sample: sample,
            estimated_latency_ms: latency,
            expires_at_ms: None,
            submitted_at_ms: 500_000,
        }
    }

    fn context() -> Context {
        let trust = HashMap::from([
            ("p1".to_string(), TrustFacts { score: 0.9, tier: TrustTier::Gold }),
            ("p2".to_string(), TrustFacts { score: 0.5, tier: TrustTier::Silver }),
            ("p3".to_string(), TrustFacts { score: 0.2, tier: TrustTier::Bronze }),
        ]);
        let certifications = HashMap::from([
            ("p1".to_string(), HashSet::from(["translate".to_string(), "summarize".to_string()])),
            ("p2".to_string(), HashSet::from(["translate".to_string()])),
        ]);
        Context { trust: Some(trust), certifications: Some(certifications) }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Exact expected totals, computed by hand from the weights.
    #[test]
    fn scores_and_ranks_per_strategy() {
        let bids = [
            bid("b1", "p1", 8_000, 0.9, true, 500),
            bid("b2", "p2", 4_000, 0.6, false, 200),
            bid("b3", "p3", 2_000, 0.5, false, 900),
        ];
        // Components (price, trust, confidence, sample, sla, certification):
        // b1: 0.2, 0.9, 0.9, 0.8, 0.5, 1.0   b2: 0.6, 0.5, 0.6, 0.5, 0.8, 1.0   b3: 0.8, 0.2, 0.5, 0.5, 0.1, 0.0
        let cases = [
            (
                Strategy::Balanced,
                [
                    ("b1", 0.05 + 0.225 + 0.135 + 0.08 + 0.05 + 0.15),
                    ("b2", 0.15 + 0.125 + 0.09 + 0.05 + 0.08 + 0.15),
                    ("b3", 0.2 + 0.05 + 0.075 + 0.05 + 0.01),
                ],
            ),
            (
                Strategy::LowestPrice,
                [
                    ("b2", 0.27 + 0.075 + 0.06 + 0.025 + 0.08 + 0.15),
                    ("b1", 0.09 + 0.135 + 0.09 + 0.04 + 0.05 + 0.15),
                    ("b3", 0.36 + 0.03 + 0.05 + 0.025 + 0.01),
                ],
            ),
            (
                Strategy::BestQuality,
                [
                    ("b1", 0.02 + 0.27 + 0.18 + 0.08 + 0.05 + 0.2),
                    ("b2", 0.06 + 0.15 + 0.12 + 0.05 + 0.08 + 0.2),
                    ("b3", 0.08 + 0.06 + 0.1 + 0.05 + 0.01),
                ],
            ),
        ];
        for (strategy, expected) in cases {
            let ranking = evaluate(strategy, &terms(), &bids, &context());
            let got: Vec<(&str, f64)> = ranking.ranked.iter().map(|r| (r.bid_id.as_str(), r.total_score)).collect();
            assert_eq!(got.len(), 3);
            for ((id, score), (want_id, want_score)) in got.iter().zip(expected) {
                assert_eq!(*id, want_id, "{strategy:?}: {got:?}");
                assert!(close(*score, want_score), "{strategy:?} {id}: {score} != {want_score}");
            }
            assert_eq!(ranking.ranked.iter().map(|r| r.rank).collect::<Vec<_>>(), vec![1, 2, 3]);
        }
        let ranking = evaluate(Strategy::Balanced, &terms(), &bids, &context());
        let b1 = &ranking.ranked[0].scores;
        assert_eq!((b1.mvp_sample, b1.certification), (Some(0.8), Some(1.0)));
        assert!(close(b1.price.unwrap(), 0.2) && close(b1.sla.unwrap(), 0.5));
    }

    #[test]
    fn each_rule_disqualifies_with_its_reason() {
        let mut t = terms();
        t.min_trust_tier = Some(TrustTier::Silver);
        t.required_capabilities = vec!["translate".into()];
        let mut expired = bid("e", "p1", 100, 0.5, false, 10);
        expired.expires_at_ms = Some(t.now_ms);
        let bids = [
            bid("over", "p1", 10_001, 0.5, false, 10),
            expired,
            bid("slow", "p1", 100, 0.5, false, 1_001),
            bid("weak", "p3", 100, 0.5, false, 10),
            bid("uncert", "p4", 100, 0.5, false, 10),
            bid("bad", "p1", 100, 1.5, false, 10),
            bid("ok", "p2", 100, 0.5, false, 10),
        ];
        let mut c = context();
        if let Some(trust) = c.trust.as_mut() {
            trust.insert("p4".into(), TrustFacts { score: 0.8, tier: TrustTier::Gold });
        }
        let ranking = evaluate(Strategy::Balanced, &t, &bids, &c);
        let reasons: HashMap<&str, Disqualification> =
            ranking.disqualified.iter().map(|d| (d.bid_id.as_str(), d.reason)).collect();
        assert_eq!(reasons["over"], Disqualification::OverBudget);
        assert_eq!(reasons["e"], Disqualification::Expired);
        assert_eq!(reasons["slow"], Disqualification::SlaLatencyExceeded);
        assert_eq!(reasons["weak"], Disqualification::BelowMinTrustTier);
        assert_eq!(reasons["uncert"], Disqualification::MissingCertifiedCapability);
        assert_eq!(reasons["bad"], Disqualification::InvalidBid);
        assert_eq!(ranking.ranked.len(), 1);
        assert_eq!(ranking.ranked[0].bid_id, "ok");
    }

    #[test]
    fn without_certauth_the_missing_components_are_listed_and_never_invented() {
        let bids = [bid("b1", "p1", 8_000, 0.9, true, 500), bid("b2", "p2", 4_000, 0.6, false, 200)];
        let ranking = evaluate(Strategy::Balanced, &terms(), &bids, &Context::default());
        assert_eq!(ranking.degraded, vec![Component::Trust, Component::Certification]);
        for bid in &ranking.ranked {
            assert_eq!((bid.scores.trust, bid.scores.certification), (None, None));
        }
        // Balanced without trust and certification: 0.25, 0.15, 0.10, 0.10 over 0.60.
        let w = ranking.weights;
        assert!(close(w[0], 0.25 / 0.6) && close(w[1], 0.0) && close(w[5], 0.0));
        assert!(close(w.iter().sum::<f64>(), 1.0));
        let b2 = ranking.ranked.iter().find(|r| r.bid_id == "b2").unwrap();
        assert!(close(b2.total_score, (0.25 * 0.6 + 0.15 * 0.6 + 0.10 * 0.5 + 0.10 * 0.8) / 0.6));

        let mut strict = terms();
        strict.min_trust_tier = Some(TrustTier::Bronze);
        strict.required_capabilities = vec!["translate".into()];
        let ranking = evaluate(Strategy::Balanced, &strict, &bids, &Context::default());
        assert!(ranking.ranked.is_empty(), "eligibility that cannot be checked is not assumed");
        assert_eq!(ranking.disqualified[0].reason, Disqualification::TrustUnverifiable);
    }

    #[test]
    fn ties_break_by_price_then_time_then_id() {
        let mut a = bid("b", "p1", 5_000, 0.5, false, 500);
        let mut b = bid("a", "p1", 5_000, 0.5, false, 500);
        let c = bid("c", "p1", 5_000, 0.5, false, 500);
        a.submitted_at_ms = 10;
        b.submitted_at_ms = 20;
        let ranking = evaluate(Strategy::Balanced, &terms(), &[c, b, a], &context());
        let order: Vec<&str> = ranking.ranked.iter().map(|r| r.bid_id.as_str()).collect();
        assert_eq!(order, vec!["b", "a", "c"]);
    }

    fn arb_bid() -> impl proptest::strategy::Strategy<Value = BidInput> {
        (0u32..1000, 1i64..20_000, 0u32..=100, any::<bool>(), 0u64..3_000, 0i64..1_000_000, 0u8..4).prop_map(
            |(n, price, confidence, sample, latency, submitted, provider)| BidInput {
                bid_id: format!("bid{n}"),
                provider_id: format!("p{provider}"),
                price_minor: price,
                confidence: f64::from(confidence) / 100.0,
                has_sample: sample,
                estimated_latency_ms: latency,
                expires_at_ms: None,
                submitted_at_ms: submitted,
            },
        )
    }

    proptest! {
        #[test]
        fn scores_stay_in_range_and_ranking_ignores_input_order(
            bids in proptest::collection::vec(arb_bid(), 0..40),
            seed in any::<u64>(),
            degraded in 0u8..4,
        ) {
            let context = match degraded {
                0 => context(),
                1 => Context { trust: None, ..context() },
                2 => Context { certifications: None, ..context() },
                _ => Context::default(),
            };
            for strategy in [Strategy::Balanced, Strategy::LowestPrice, Strategy::BestQuality] {
                let ranking = evaluate(strategy, &terms(), &bids, &context);
                prop_assert!((ranking.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                for ranked in &ranking.ranked {
                    prop_assert!((0.0..=1.0).contains(&ranked.total_score));
                    for score in ranked.scores.as_array().into_iter().flatten() {
                        prop_assert!((0.0..=1.0).contains(&score));
                    }
                }
                prop_assert_eq!(ranking.ranked.len() + ranking.disqualified.len(), bids.len());
                let mut shuffled = bids.clone();
                let mut rng = seed;
                for i in (1..shuffled.len()).rev() {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    shuffled.swap(i, (rng >> 33) as usize % (i + 1));
                }
                let again = evaluate(strategy, &terms(), &shuffled, &context);
                let ids = |r: &Ranking| r.ranked.iter().map(|b| b.bid_id.clone()).collect::<Vec<_>>();
                // Duplicate bid ids in the generated input make order among equals ambiguous.
                let unique: HashSet<&String> = bids.iter().map(|b| &b.bid_id).collect();
                if unique.len() == bids.len() {
                    prop_assert_eq!(ids(&ranking), ids(&again));
                }
            }
        }
    }
}
