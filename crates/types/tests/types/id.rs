//! Typed ids: prefixes, generation, validation and serde.

use std::collections::HashSet;

use aex_types::{
    AccountId, ApiKeyId, BidId, CertRequestId, CertificateId, ContractId, EvaluationId, EventId, IdError, ProviderId,
    ReceiptId, RequestId, SubscriptionId, TenantId, TransferId, WorkId,
};
use proptest::prelude::*;

const CROCKFORD: &str = "0123456789abcdefghjkmnpqrstvwxyz";
const VALID_BODY: &str = "[0-9a-hjkmnp-tv-z]{26}";

/// Checks one id type end to end: prefix, shape of `new()`, text and serde round trips.
macro_rules! check_id_type {
    ($name:ident, $prefix:literal) => {{
        assert_eq!($name::PREFIX, $prefix);
        let id = $name::new();
        let text = id.to_string();
        let body =
            text.strip_prefix(concat!($prefix, "_")).unwrap_or_else(|| panic!("{text} lacks the prefix {}", $prefix));
        assert_eq!(body.len(), 26, "{text}");
        assert!(body.chars().all(|c| CROCKFORD.contains(c)), "{text}");
        assert_eq!(id.as_str(), text);
        assert_eq!(id.as_ref() as &str, text);
        assert_eq!(text.parse::<$name>(), Ok(id.clone()));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<$name>(&json).unwrap(), id);
        assert_ne!($name::new(), id);
        assert_eq!(id.clone().into_string(), text);
    }};
}

#[test]
fn every_id_type_has_its_prefix_and_round_trips() {
    check_id_type!(TenantId, "tenant");
    check_id_type!(ApiKeyId, "key");
    check_id_type!(ProviderId, "prov");
    check_id_type!(SubscriptionId, "sub");
    check_id_type!(WorkId, "work");
    check_id_type!(BidId, "bid");
    check_id_type!(ContractId, "contract");
    check_id_type!(EvaluationId, "eval");
    check_id_type!(CertificateId, "cert");
    check_id_type!(CertRequestId, "certreq");
    check_id_type!(AccountId, "acct");
    check_id_type!(TransferId, "xfer");
    check_id_type!(ReceiptId, "rcpt");
    check_id_type!(EventId, "evt");
    check_id_type!(RequestId, "req");
}

#[test]
fn new_ids_are_distinct_and_carry_128_bits() {
    let ids: HashSet<String> = (0..2000).map(|_| WorkId::new().into_string()).collect();
    assert_eq!(ids.len(), 2000);
    // 128 bits in 26 × 5: the first character holds the top 3 bits, so it is 0-7, and over
    // 2000 ids each of those 8 values shows up.
    let firsts: HashSet<char> = ids.iter().filter_map(|id| id["work_".len()..].chars().next()).collect();
    assert_eq!(firsts, "01234567".chars().collect());
    // The last character holds 5 full bits: all 32 symbols appear.
    let lasts: HashSet<char> = ids.iter().filter_map(|id| id.chars().last()).collect();
    assert_eq!(lasts.len(), 32);
}

#[test]
fn malformed_ids_are_rejected_with_a_reason() {
    let body = "0123456789abcdefghjkmnpqrs";
    let wrong_prefix = IdError::WrongPrefix { expected: "work" };
    let table = [
        (format!("bid_{body}"), wrong_prefix),
        (format!("WORK_{body}"), wrong_prefix),
        (format!("work-{body}"), wrong_prefix),
        (format!("work{body}"), wrong_prefix),
        (format!("xwork_{body}"), wrong_prefix),
        (format!(" work_{body}"), wrong_prefix),
        (body.to_owned(), wrong_prefix),
        (String::new(), wrong_prefix),
        ("work".to_owned(), wrong_prefix),
        ("work_".to_owned(), IdError::WrongLength),
        (format!("work_{body}0"), IdError::WrongLength),
        (format!("work_{}", &body[1..]), IdError::WrongLength),
        (format!("work_{}", body.to_uppercase()), IdError::InvalidCharacter),
        (format!("work_{}i", &body[1..]), IdError::InvalidCharacter),
        (format!("work_{}l", &body[1..]), IdError::InvalidCharacter),
        (format!("work_{}o", &body[1..]), IdError::InvalidCharacter),
        (format!("work_{}u", &body[1..]), IdError::InvalidCharacter),
        (format!("work_{} ", &body[1..]), IdError::InvalidCharacter),
        (format!("work__{}", &body[1..]), IdError::InvalidCharacter),
        (format!("work_{}é", &body[2..]), IdError::InvalidCharacter),
    ];
    for (text, expected) in table {
        assert_eq!(text.parse::<WorkId>(), Err(expected), "{text:?}");
    }
    assert_eq!(format!("work_{body}").parse::<WorkId>().map(|id| id.into_string()), Ok(format!("work_{body}")));
}

#[test]
fn prefixes_that_extend_each_other_do_not_mix() {
    let request = CertRequestId::new().into_string();
    let certificate = CertificateId::new().into_string();
    assert_eq!(request.parse::<CertificateId>(), Err(IdError::WrongPrefix { expected: "cert" }));
    assert_eq!(certificate.parse::<CertRequestId>(), Err(IdError::WrongPrefix { expected: "certreq" }));
}

#[test]
fn errors_have_a_stable_code_and_no_echo_of_input() {
    for err in [IdError::WrongPrefix { expected: "work" }, IdError::WrongLength, IdError::InvalidCharacter] {
        assert_eq!(err.code(), "INVALID_ID");
    }
    assert_eq!(IdError::WrongPrefix { expected: "work" }.to_string(), "id must start with 'work_'");
}

#[test]
fn serde_validates_on_the_way_in() {
    let err = serde_json::from_str::<WorkId>("\"bid_0123456789abcdefghjkmnpqrs\"").unwrap_err();
    assert!(err.to_string().contains("id must start with 'work_'"), "{err}");
    assert!(serde_json::from_str::<WorkId>("\"work_short\"").is_err());
    assert!(serde_json::from_str::<WorkId>("42").is_err());
    assert!(serde_json::from_str::<WorkId>("null").is_err());
    // Escaped JSON strings arrive owned rather than borrowed; they validate too.
    let escaped = "\"work_0123456789abcdefghjkmnpqr\\u0073\"";
    assert_eq!(serde_json::from_str::<WorkId>(escaped).unwrap().as_str(), "work_0123456789abcdefghjkmnpqrs");
}

proptest! {
    #[test]
    fn any_valid_body_round_trips(body in VALID_BODY) {
        let text = format!("bid_{body}");
        let id: BidId = text.parse().unwrap();
        prop_assert_eq!(id.to_string(), text.clone());
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<BidId>(&json).unwrap(), id);
    }

    #[test]
    fn any_other_length_is_rejected(body in "[0-9a-hjkmnp-tv-z]{0,60}") {
        prop_assume!(body.len() != 26);
        prop_assert_eq!(format!("bid_{body}").parse::<BidId>(), Err(IdError::WrongLength));
    }

    #[test]
    fn any_character_outside_the_alphabet_is_rejected(
        body in VALID_BODY,
        position in 0_usize..26,
        bad in any::<char>().prop_filter("outside the alphabet", |c| !CROCKFORD.contains(*c)),
    ) {
        let mut chars: Vec<char> = body.chars().collect();
        chars[position] = bad;
        let text = format!("bid_{}", chars.into_iter().collect::<String>());
        prop_assert_eq!(text.parse::<BidId>(), Err(IdError::InvalidCharacter));
    }

    #[test]
    fn another_type_prefix_is_rejected(body in VALID_BODY, prefix in "[a-z]{1,10}") {
        prop_assume!(prefix != "bid");
        prop_assert_eq!(
            format!("{prefix}_{body}").parse::<BidId>(),
            Err(IdError::WrongPrefix { expected: "bid" })
        );
    }
}
