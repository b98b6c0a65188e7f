//! Time to score and rank 1 000, 10 000 and 100 000 bids in process (target: 10 000 in under
//! 20 ms). Prints figures; asserts nothing. `cargo bench -p aex-bid-evaluator --bench ranking`.

#![allow(clippy::unwrap_used, clippy::float_arithmetic)]

use aex_bid_evaluator::domain::scoring::{BidInput, Context, Strategy, TrustFacts, TrustTier, WorkTerms, evaluate};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn bids(n: usize) -> Vec<BidInput> {
    (0..n)
        .map(|i| BidInput {
            bid_id: format!("bid_{i:08}"),
            provider_id: format!("prov_{}", i % 500),
            price_minor: 1_000 + fastrand::i64(0..9_500),
            confidence: f64::from(fastrand::u32(0..=100)) / 100.0,
            has_sample: fastrand::bool(),
            estimated_latency_ms: fastrand::u64(10..1_200),
            expires_at_ms: None,
            submitted_at_ms: fastrand::i64(0..1_000_000),
        })
        .collect()
}

fn main() {
    let terms = WorkTerms {
        max_price_minor: 10_000,
        max_latency_ms: Some(1_000),
        min_trust_tier: Some(TrustTier::Silver),
        required_capabilities: vec!["translate".into()],
        now_ms: 2_000_000,
    };
    let tiers = [TrustTier::Bronze, TrustTier::Silver, TrustTier::Gold, TrustTier::Platinum];
    let trust: HashMap<String, TrustFacts> = (0u32..500)
        .map(|p| (format!("prov_{p}"), TrustFacts { score: f64::from(p % 100) / 100.0, tier: tiers[(p % 4) as usize] }))
        .collect();
    let certifications: HashMap<String, HashSet<String>> = (0..500)
        .filter(|p| p % 5 != 0)
        .map(|p| (format!("prov_{p}"), HashSet::from(["translate".to_string()])))
        .collect();
    let context = Context { trust: Some(trust), certifications: Some(certifications) };
    println!("score + disqualify + rank, balanced strategy, certauth data present");
    for n in [1_000, 10_000, 100_000] {
        let input = bids(n);
        let mut times: Vec<Duration> = (0..15)
            .map(|_| {
                let started = Instant::now();
                let ranking = evaluate(Strategy::Balanced, &terms, &input, &context);
                std::hint::black_box(&ranking);
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "  {n:>7} bids: median {:>8.2} ms   best {:>8.2} ms{}",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            if n == 10_000 { "   (target < 20 ms)" } else { "" }
        );
    }
}
