//! Typed, prefixed, opaque ids (`work_…`, `bid_…`) so one kind of id cannot stand in for another.
//!
//! An id is `<prefix>_<26 chars>`, the 26 chars being 128 OS-random bits in lower-case
//! Crockford base32 (`0-9a-z` without `i`, `l`, `o`, `u`).

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Lower-case Crockford base32: digits and letters without `i`, `l`, `o`, `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters after the `_`: 26 × 5 bits hold the 128 random bits.
pub const ID_BODY_LEN: usize = 26;

/// Why a string is not a valid id. Every variant has the code `INVALID_ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not start with `<prefix>_`.
    #[error("id must start with '{expected}_'")]
    WrongPrefix {
        /// The prefix this id type requires.
        expected: &'static str,
    },
    /// The part after `<prefix>_` is not 26 characters long.
    #[error("id must have {ID_BODY_LEN} characters after the prefix")]
    WrongLength,
    /// The part after `<prefix>_` has a character outside lower-case Crockford base32.
    #[error("id must use only the characters 0-9 and a-z without i, l, o, u after the prefix")]
    InvalidCharacter,
}

impl IdError {
    /// The stable code for API error bodies: always `INVALID_ID`.
    pub const fn code(&self) -> &'static str {
        "INVALID_ID"
    }
}

/// A fresh `<prefix>_<26 chars>` id from 128 OS-random bits. Used by [`define_id!`](crate::define_id).
///
/// If the OS cannot supply randomness the process aborts after a message on stderr. Ids are
/// the only thing standing between tenants and each other's resources, so a predictable or
/// repeated id is worse than stopping; a panic is not enough, because the server's
/// catch-panic layer would turn it into a 500 and keep serving with a broken RNG.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0_u8; 16];
    if let Err(err) = getrandom::fill(&mut bytes) {
        eprintln!("aex-types: the OS random number generator failed ({err}); aborting");
        std::process::abort();
    }
    let body = encode(u128::from_be_bytes(bytes));
    let mut id = String::with_capacity(prefix.len() + 1 + ID_BODY_LEN);
    id.push_str(prefix);
    id.push('_');
    id.extend(body.iter().map(|&b| char::from(b)));
    id
}

/// 128 bits as 26 base32 characters, most significant first; the first carries 3 bits.
fn encode(mut bits: u128) -> [u8; ID_BODY_LEN] {
    let mut body = [0_u8; ID_BODY_LEN];
    for slot in body.iter_mut().rev() {
        *slot = ALPHABET[(bits & 0x1f) as usize];
        bits >>= 5;
    }
    body
}

/// Checks that `s` is `<prefix>_` followed by 26 lower-case Crockford base32 characters.
pub fn validate(s: &str, prefix: &'static str) -> Result<(), IdError> {
    let body = s
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or(IdError::WrongPrefix { expected: prefix })?;
    if !body.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(IdError::InvalidCharacter);
    }
    // All bytes are ASCII now, so the byte length is the character count.
    if body.len() != ID_BODY_LEN {
        return Err(IdError::WrongLength);
    }
    Ok(())
}

/// Deserializes a string and validates it as an id with `prefix`. Used by [`define_id!`](crate::define_id).
pub fn deserialize_validated<'de, D: Deserializer<'de>>(
    deserializer: D,
    prefix: &'static str,
) -> Result<String, D::Error> {
    struct IdVisitor(&'static str);

    impl Visitor<'_> for IdVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an id string starting with '{}_'", self.0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            validate(v, self.0).map_err(E::custom)?;
            Ok(v.to_owned())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            validate(&v, self.0).map_err(E::custom)?;
            Ok(v)
        }
    }

    deserializer.deserialize_string(IdVisitor(prefix))
}

/// Defines a typed id: a newtype over `String` that always holds `<prefix>_<26 chars>`.
///
/// The type gets `new()` (fresh random id), `as_str()`, `Display`, `FromStr` (validating,
/// error [`IdError`](crate::IdError)), `AsRef<str>`, serde as a validated string, and
/// `Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug`. Callers need no serde dependency.
///
/// ```
/// aex_types::define_id!(
///     /// Identifies a widget.
///     WidgetId, "wdg"
/// );
///
/// let id = WidgetId::new();
/// assert!(id.as_str().starts_with("wdg_"));
/// assert_eq!(id.to_string().parse::<WidgetId>(), Ok(id));
/// assert!("bid_0123456789abcdefghjkmnpqrs".parse::<WidgetId>().is_err());
/// ```
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal $(,)?) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(::std::string::String);

        // `new()` draws fresh randomness; a `Default` doing that would surprise anyone
        // deriving `Default` on a struct holding this id.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// The prefix before the `_`.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn new() -> Self {
                Self($crate::id::generate($prefix))
            }

            /// The id as text, prefix included.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> ::std::string::String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::IdError;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::id::validate(s, $prefix)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error>
            where
                S: $crate::__private::serde::Serializer,
            {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: $crate::__private::serde::Deserializer<'de>,
            {
                $crate::id::deserialize_validated(deserializer, $prefix).map(Self)
            }
        }
    };
}

define_id!(
    /// A tenant (consumer or provider organisation).
    TenantId, "tenant"
);
define_id!(
    /// An API key's public identifier (never the secret).
    ApiKeyId, "key"
);
define_id!(
    /// A provider agent's profile.
    ProviderId, "prov"
);
define_id!(
    /// A provider's subscription to work categories.
    SubscriptionId, "sub"
);
define_id!(
    /// A published unit of work.
    WorkId, "work"
);
define_id!(
    /// A sealed bid on a unit of work.
    BidId, "bid"
);
define_id!(
    /// An awarded contract between consumer and provider.
    ContractId, "contract"
);
define_id!(
    /// One evaluation (scoring run) of the bids on a unit of work.
    EvaluationId, "eval"
);
define_id!(
    /// An issued certificate.
    CertificateId, "cert"
);
define_id!(
    /// A certificate request.
    CertRequestId, "certreq"
);
define_id!(
    /// A ledger account.
    AccountId, "acct"
);
define_id!(
    /// A ledger transfer.
    TransferId, "xfer"
);
define_id!(
    /// A signed settlement receipt.
    ReceiptId, "rcpt"
);
define_id!(
    /// A published event.
    EventId, "evt"
);
define_id!(
    /// One webhook delivery of an event to a subscriber.
    WebhookDeliveryId, "whd"
);
define_id!(
    /// An HTTP request, for tracing and error bodies.
    RequestId, "req"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_puts_the_top_bits_first() {
        // 128 bits in 26 × 5: the first character carries only the top 3 bits.
        let body = |bits: u128| String::from_utf8_lossy(&encode(bits)).into_owned();
        assert_eq!(body(0), "0".repeat(26));
        assert_eq!(body(u128::MAX), format!("7{}", "z".repeat(25)));
        assert_eq!(body(31), format!("{}z", "0".repeat(25)));
        assert_eq!(body(32), format!("{}10", "0".repeat(24)));
        assert_eq!(body(1 << 125), format!("1{}", "0".repeat(25)));
    }

    #[test]
    fn generated_ids_validate() {
        let id = generate("work");
        assert_eq!(id.len(), "work_".len() + ID_BODY_LEN);
        assert_eq!(validate(&id, "work"), Ok(()));
        // The top character holds 3 bits, so it is always 0-7.
        assert!(id.as_bytes()[5].is_ascii_digit() && id.as_bytes()[5] <= b'7');
    }
}
