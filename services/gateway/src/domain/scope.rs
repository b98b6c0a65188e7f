//! Scopes a credential carries and the rules for holding and granting them
//! (ARCHITECTURE.md §3). `admin` and `*` satisfy every requirement.

use super::tenant::TenantType;

pub const READ: &str = "read";
pub const WORK_SUBMIT: &str = "work:submit";
pub const BIDS_SUBMIT: &str = "bids:submit";
pub const CONTRACTS_WRITE: &str = "contracts:write";
pub const PROVIDERS_WRITE: &str = "providers:write";
pub const BILLING_WRITE: &str = "billing:write";
pub const TENANTS_WRITE: &str = "tenants:write";
pub const CERTS_ISSUE: &str = "certs:issue";
pub const ADMIN: &str = "admin";
/// Required by routes missing from the scope table (fail closed).
pub const ANY: &str = "*";

/// Every scope a key may carry.
pub const KNOWN: [&str; 10] = [
    READ,
    WORK_SUBMIT,
    BIDS_SUBMIT,
    CONTRACTS_WRITE,
    PROVIDERS_WRITE,
    BILLING_WRITE,
    TENANTS_WRITE,
    CERTS_ISSUE,
    ADMIN,
    ANY,
];

/// Most scopes one key may list (the known ones, each once).
pub const MAX_SCOPES: usize = KNOWN.len();

pub fn is_known(scope: &str) -> bool {
    KNOWN.contains(&scope)
}

/// Operator powers: `admin` or `*`.
pub fn is_admin(held: &[String]) -> bool {
    held.iter().any(|s| s == ADMIN || s == ANY)
}

/// Whether `held` satisfies `required`.
pub fn satisfies(held: &[String], required: &str) -> bool {
    is_admin(held) || held.iter().any(|s| s == required)
}

/// The first requested scope the creator may not hand out: a key never gets more than the
/// credentials that created it, except when an operator creates it.
pub fn first_ungrantable<'a>(creator: &[String], requested: &'a [String]) -> Option<&'a str> {
    if is_admin(creator) {
        return None;
    }
    requested.iter().find(|scope| !creator.contains(scope)).map(String::as_str)
}

/// Checks a requested scope list: non-empty, known scopes only; duplicates dropped, order kept.
pub fn normalize(requested: &[String]) -> Result<Vec<String>, String> {
    if requested.is_empty() {
        return Err("at least one scope is required".to_string());
    }
    let mut scopes: Vec<String> = Vec::with_capacity(requested.len().min(MAX_SCOPES));
    for scope in requested {
        if !is_known(scope) {
            let shown: String = scope.chars().take(40).collect();
            return Err(format!("unknown scope {shown:?}; known scopes: {}", KNOWN.join(", ")));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    Ok(scopes)
}

/// The scopes of a tenant's first key, by what the tenant does on the market.
pub fn defaults_for(tenant_type: TenantType) -> Vec<String> {
    let requestor = [READ, WORK_SUBMIT, CONTRACTS_WRITE, BILLING_WRITE, TENANTS_WRITE];
    let provider = [READ, BIDS_SUBMIT, PROVIDERS_WRITE, CONTRACTS_WRITE, BILLING_WRITE, TENANTS_WRITE, CERTS_ISSUE];
    let chosen: Vec<&str> = match tenant_type {
        TenantType::Requestor => requestor.to_vec(),
        TenantType::Provider => provider.to_vec(),
        TenantType::Both => {
            let mut all = requestor.to_vec();
            all.extend(provider.iter().filter(|s| !requestor.contains(s)));
            all
        }
    };
    chosen.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owned(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admin_and_star_satisfy_everything_others_only_themselves() {
        assert!(satisfies(&owned(&[ADMIN]), BILLING_WRITE));
        assert!(satisfies(&owned(&[ANY]), ANY));
        assert!(satisfies(&owned(&[READ]), READ));
        assert!(!satisfies(&owned(&[READ]), WORK_SUBMIT));
        assert!(!satisfies(&owned(&[READ, WORK_SUBMIT]), ANY), "an unmapped route needs *");
        assert!(!satisfies(&[], READ));
    }

    #[test]
    fn creators_cannot_grant_what_they_lack() {
        let creator = owned(&[READ, TENANTS_WRITE]);
        assert_eq!(first_ungrantable(&creator, &owned(&[READ])), None);
        assert_eq!(first_ungrantable(&creator, &owned(&[READ, BILLING_WRITE])), Some(BILLING_WRITE));
        assert_eq!(first_ungrantable(&creator, &owned(&[ADMIN])), Some(ADMIN));
        assert_eq!(first_ungrantable(&owned(&[ADMIN]), &owned(&[ANY, BILLING_WRITE])), None);
    }

    #[test]
    fn normalize_refuses_unknown_and_empty_and_dedupes() {
        assert!(normalize(&[]).is_err());
        assert!(normalize(&owned(&["billing:steal"])).is_err());
        assert_eq!(normalize(&owned(&[READ, READ, WORK_SUBMIT])), Ok(owned(&[READ, WORK_SUBMIT])));
    }

    #[test]
    fn tenant_defaults_never_include_operator_powers() {
        for t in [TenantType::Requestor, TenantType::Provider, TenantType::Both] {
            let scopes = defaults_for(t);
            assert!(!is_admin(&scopes), "{t:?}");
            assert!(scopes.iter().all(|s| is_known(s)));
            assert_eq!(normalize(&scopes).as_ref(), Ok(&scopes), "no duplicates");
        }
        assert!(defaults_for(TenantType::Provider).contains(&BIDS_SUBMIT.to_string()));
        assert!(!defaults_for(TenantType::Requestor).contains(&BIDS_SUBMIT.to_string()));
    }

    proptest! {
        #[test]
        fn a_granted_subset_never_exceeds_the_creator(creator in proptest::sample::subsequence(KNOWN[..8].to_vec(), 0..8),
                                                      requested in proptest::sample::subsequence(KNOWN.to_vec(), 1..10)) {
            let creator = owned(&creator);
            let requested = owned(&requested);
            if first_ungrantable(&creator, &requested).is_none() {
                for scope in &requested {
                    prop_assert!(satisfies(&creator, scope));
                }
            }
        }
    }
}
