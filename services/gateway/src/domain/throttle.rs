//! Budgets of failed authentication: fixed one-minute windows per client address and per API
//! key prefix. A charge is taken before a credential lookup whose outcome is not known yet and
//! given back when the credential turns out good, so a counter holds failures plus lookups in
//! flight: concurrent guesses from one address cannot all reach the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a window lasts; budgets are per window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Which budget a failure is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Address,
    KeyPrefix,
}

impl Counter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::KeyPrefix => "key_prefix",
        }
    }
}

/// What charging one unverified attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Charged. `address_spent_for`: the address has now spent its budget, for the rest of
    /// its window (so this replica refuses its next request at once).
    Admitted { address_spent_for: Option<Duration> },
    /// Nothing charged: `counter` has spent its budget; its window ends after `retry_after`.
    Refused { counter: Counter, retry_after: Duration },
}

/// The bucket of a client address: IPv4 as is; IPv6 by its /64, the network one subscriber
/// is given and can pick addresses from at will. `unknown` when the address is not known.
pub fn address_bucket(client: Option<IpAddr>) -> String {
    match client {
        None => "unknown".to_string(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// One counter's window in the in-process fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub started: Instant,
    pub count: u32,
}

impl Window {
    fn left(&self, now: Instant) -> Option<Duration> {
        WINDOW.checked_sub(now.saturating_duration_since(self.started)).filter(|left| !left.is_zero())
    }
}

/// Charges one attempt to every counter of `counters` (key, counter, budget) at `now`: all of
/// them or, when one has spent its budget, none — as the Redis script does.
pub fn charge_windows(
    windows: &mut HashMap<String, Window>,
    counters: &[(&str, Counter, u32)],
    now: Instant,
) -> Charge {
    for (key, counter, budget) in counters {
        if let Some(window) = windows.get(*key)
            && let Some(left) = window.left(now)
            && window.count >= *budget
        {
            return Charge::Refused { counter: *counter, retry_after: left };
        }
    }
    let mut address_spent_for = None;
    for (key, counter, budget) in counters {
        let window = windows.entry((*key).to_string()).or_insert(Window { started: now, count: 0 });
        if window.left(now).is_none() {
            *window = Window { started: now, count: 0 };
        }
        window.count += 1;
        if *counter == Counter::Address && window.count >= *budget {
            address_spent_for = window.left(now);
        }
    }
    Charge::Admitted { address_spent_for }
}

/// Gives back one charge of each of `keys` (the credential was good).
pub fn refund_windows(windows: &mut HashMap<String, Window>, keys: &[&str], now: Instant) {
    for key in keys {
        if let Some(window) = windows.get_mut(*key)
            && window.left(now).is_some()
        {
            window.count = window.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_bucketed_ipv6_by_network() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(address_bucket(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_bucket(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(address_bucket(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64", "same subscriber");
        assert_eq!(address_bucket(ip("::ffff:198.51.100.4")), "198.51.100.4");
        assert_eq!(address_bucket(None), "unknown");
    }

    #[test]
    fn a_spent_budget_refuses_without_charging_until_the_window_ends() {
        let mut windows = HashMap::new();
        let start = Instant::now();
        let counters = [("a", Counter::Address, 3), ("p", Counter::KeyPrefix, 10)];
        for n in 1..=3 {
            let charged = charge_windows(&mut windows, &counters, start);
            let spent = n == 3;
            assert_eq!(matches!(charged, Charge::Admitted { address_spent_for: Some(_) }), spent, "attempt {n}");
        }
        let refused = charge_windows(&mut windows, &counters, start + Duration::from_secs(20));
        assert_eq!(refused, Charge::Refused { counter: Counter::Address, retry_after: Duration::from_secs(40) });
        assert_eq!(windows["p"].count, 3, "a refused attempt charges nothing");
        // A good credential gives its charge back.
        refund_windows(&mut windows, &["a", "p"], start + Duration::from_secs(21));
        assert!(matches!(
            charge_windows(&mut windows, &counters, start + Duration::from_secs(22)),
            Charge::Admitted { .. }
        ));
        // A new window starts empty.
        let later = start + WINDOW + Duration::from_secs(1);
        assert_eq!(charge_windows(&mut windows, &counters, later), Charge::Admitted { address_spent_for: None });
        assert_eq!(windows["a"].count, 1);
    }

    #[test]
    fn the_prefix_budget_binds_across_addresses() {
        let mut windows = HashMap::new();
        let now = Instant::now();
        for n in 0..5 {
            let address = format!("10.0.0.{n}");
            let charged =
                charge_windows(&mut windows, &[(&address, Counter::Address, 20), ("p", Counter::KeyPrefix, 5)], now);
            assert!(matches!(charged, Charge::Admitted { .. }));
        }
        let sixth =
            charge_windows(&mut windows, &[("10.0.0.9", Counter::Address, 20), ("p", Counter::KeyPrefix, 5)], now);
        assert!(matches!(sixth, Charge::Refused { counter: Counter::KeyPrefix, .. }));
    }

    proptest! {
        /// However attempts, refunds and time interleave, a window never holds more charges
        /// than its budget.
        #[test]
        fn never_more_charges_than_the_budget(budget in 1u32..30,
                                              steps in proptest::collection::vec((any::<bool>(), 0u64..5_000), 1..300)) {
            let mut windows = HashMap::new();
            let start = Instant::now();
            let mut now = start;
            for (refund, gap_ms) in steps {
                now += Duration::from_millis(gap_ms);
                if refund {
                    refund_windows(&mut windows, &["a"], now);
                } else {
                    charge_windows(&mut windows, &[("a", Counter::Address, budget)], now);
                }
                prop_assert!(windows.get("a").is_none_or(|w| w.count <= budget));
            }
        }
    }
}
