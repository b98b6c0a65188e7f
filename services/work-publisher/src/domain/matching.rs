//! Which subscriptions a unit of work reaches: category globs plus the subscription's filters.
//!
//! A category glob is matched against the whole category; `*` stands for any run of characters
//! (dots included), so `translation.*` matches `translation.legal` and `translation.legal.fr`
//! but not `translation`, and `*` matches everything.

/// What a subscription asks for, in the work's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub categories: Vec<String>,
    /// Only work whose budget is at least this much (in `currency`).
    pub min_budget_minor: Option<i64>,
    pub currency: String,
    /// The provider's fastest guaranteed latency: work demanding a lower latency does not match.
    pub max_latency_ms: Option<i64>,
    /// Regions the provider serves; work restricted to other regions does not match.
    pub regions: Option<Vec<String>>,
}

/// The facts of a unit of work that filters look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkFacts<'a> {
    pub category: &'a str,
    pub currency: &'a str,
    pub max_price_minor: i64,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<&'a [String]>,
}

/// Whether `pattern` (with `*` wildcards) matches all of `text`.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` and the text position it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

impl SubscriptionFilter {
    /// Whether this subscription should see `work`.
    pub fn matches(&self, work: &WorkFacts<'_>) -> bool {
        if !self.categories.iter().any(|glob| glob_matches(glob, work.category)) {
            return false;
        }
        if let Some(min) = self.min_budget_minor {
            // A budget in another currency cannot be compared without a rate: no match.
            if work.currency != self.currency || work.max_price_minor < min {
                return false;
            }
        }
        if let (Some(fastest), Some(required)) = (self.max_latency_ms, work.max_latency_ms)
            && required < fastest
        {
            return false;
        }
        if let (Some(served), Some(allowed)) = (&self.regions, work.regions)
            && !allowed.is_empty()
            && !served.iter().any(|region| allowed.contains(region))
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_categories() {
        let table = [
            ("*", "translation.legal", true),
            ("*", "", true),
            ("translation.*", "translation.legal", true),
            ("translation.*", "translation.legal.fr", true),
            ("translation.*", "translation", false),
            ("translation.*", "translations.legal", false),
            ("translation.legal", "translation.legal", true),
            ("translation.legal", "translation.legal.fr", false),
            ("*.legal", "translation.legal", true),
            ("*.legal", "translation.medical", false),
            ("code.*.rust", "code.review.rust", true),
            ("code.*.rust", "code.review.go", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("**", "x", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in table {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }

    fn work(category: &str) -> WorkFacts<'_> {
        WorkFacts { category, currency: "USD", max_price_minor: 10_000, max_latency_ms: None, regions: None }
    }

    fn subscription(globs: &[&str]) -> SubscriptionFilter {
        SubscriptionFilter {
            categories: globs.iter().map(|g| g.to_string()).collect(),
            currency: "USD".into(),
            ..SubscriptionFilter::default()
        }
    }

    #[test]
    fn filters_are_applied() {
        let eu = vec!["eu".to_string()];
        let us = vec!["us".to_string()];
        let both = vec!["us".to_string(), "eu".to_string()];
        let cases: Vec<(&str, SubscriptionFilter, WorkFacts<'_>, bool)> = vec![
            ("category glob hit", subscription(&["translation.*"]), work("translation.legal"), true),
            ("category glob miss", subscription(&["code.*"]), work("translation.legal"), false),
            ("any glob of several", subscription(&["code.*", "translation.*"]), work("translation.legal"), true),
            (
                "budget at the minimum",
                SubscriptionFilter { min_budget_minor: Some(10_000), ..subscription(&["*"]) },
                work("x"),
                true,
            ),
            (
                "budget below the minimum",
                SubscriptionFilter { min_budget_minor: Some(10_001), ..subscription(&["*"]) },
                work("x"),
                false,
            ),
            (
                "budget in another currency",
                SubscriptionFilter { min_budget_minor: Some(1), ..subscription(&["*"]) },
                WorkFacts { currency: "EUR", ..work("x") },
                false,
            ),
            ("no minimum ignores currency", subscription(&["*"]), WorkFacts { currency: "EUR", ..work("x") }, true),
            (
                "work needs faster than the provider can",
                SubscriptionFilter { max_latency_ms: Some(500), ..subscription(&["*"]) },
                WorkFacts { max_latency_ms: Some(200), ..work("x") },
                false,
            ),
            (
                "work allows the provider's latency",
                SubscriptionFilter { max_latency_ms: Some(500), ..subscription(&["*"]) },
                WorkFacts { max_latency_ms: Some(500), ..work("x") },
                true,
            ),
            (
                "work without a latency constraint",
                SubscriptionFilter { max_latency_ms: Some(500), ..subscription(&["*"]) },
                work("x"),
                true,
            ),
            (
                "regions overlap",
                SubscriptionFilter { regions: Some(eu.clone()), ..subscription(&["*"]) },
                WorkFacts { regions: Some(&both), ..work("x") },
                true,
            ),
            (
                "regions disjoint",
                SubscriptionFilter { regions: Some(eu.clone()), ..subscription(&["*"]) },
                WorkFacts { regions: Some(&us), ..work("x") },
                false,
            ),
            ("work without regions", SubscriptionFilter { regions: Some(eu), ..subscription(&["*"]) }, work("x"), true),
            ("subscription without regions", subscription(&["*"]), WorkFacts { regions: Some(&us), ..work("x") }, true),
        ];
        for (name, filter, facts, expected) in cases {
            assert_eq!(filter.matches(&facts), expected, "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_star_matches_everything(text in "[a-z.]{0,20}") {
            proptest::prop_assert!(glob_matches("*", &text));
        }

        #[test]
        fn a_pattern_without_stars_matches_only_itself(pattern in "[a-c.]{0,6}", text in "[a-c.]{0,6}") {
            proptest::prop_assert_eq!(glob_matches(&pattern, &text), pattern == text);
        }

        #[test]
        fn a_trailing_star_is_a_prefix_match(prefix in "[a-c.]{0,5}", text in "[a-c.]{0,8}") {
            proptest::prop_assert_eq!(glob_matches(&format!("{prefix}*"), &text), text.starts_with(&prefix));
        }

        #[test]
        fn a_leading_star_is_a_suffix_match(suffix in "[a-c.]{0,5}", text in "[a-c.]{0,8}") {
            proptest::prop_assert_eq!(glob_matches(&format!("*{suffix}"), &text), text.ends_with(&suffix));
        }
    }
}
