//! The JSON certificate revocation list: its canonical (signed) form. The X.509 CRL with the
//! same entries is built in [`super::x509::build_crl`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a CRL is current: its `next_update` is this long after `this_update`.
pub const CRL_LIFETIME: time::Duration = time::Duration::days(7);

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlEntry {
    pub certificate_id: String,
    /// X.509 serial number, hex.
    pub serial: String,
    pub revoked_at: String,
    pub reason: String,
}

/// The signed fields of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlBody<'a> {
    pub issuer: &'a str,
    pub issuer_id: &'a str,
    pub crl_number: i64,
    pub this_update: &'a str,
    pub next_update: &'a str,
    pub entries: &'a [CrlEntry],
}

#[derive(Serialize)]
#[serde(untagged)]
enum Canon<'a> {
    Text(&'a str),
    Integer(i64),
    Entries(Vec<BTreeMap<&'static str, &'a str>>),
}

impl CrlBody<'_> {
    /// Sorted keys, no whitespace; entries in the given order (by revocation time, then id).
    pub fn canonical(&self) -> String {
        let entries = self
            .entries
            .iter()
            .map(|e| {
                BTreeMap::from([
                    ("certificate_id", e.certificate_id.as_str()),
                    ("serial", e.serial.as_str()),
                    ("revoked_at", e.revoked_at.as_str()),
                    ("reason", e.reason.as_str()),
                ])
            })
            .collect();
        let fields = BTreeMap::from([
            ("issuer", Canon::Text(self.issuer)),
            ("issuer_id", Canon::Text(self.issuer_id)),
            ("crl_number", Canon::Integer(self.crl_number)),
            ("this_update", Canon::Text(self.this_update)),
            ("next_update", Canon::Text(self.next_update)),
            ("entries", Canon::Entries(entries)),
        ]);
        serde_json::to_string(&fields).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_crl_is_sorted_and_compact() {
        let entries = [CrlEntry {
            certificate_id: "cert_a".into(),
            serial: "0f".into(),
            revoked_at: "2026-11-21T05:00:00Z".into(),
            reason: "key compromise".into(),
        }];
        let body = CrlBody {
            issuer: "AEX Certificate Authority",
            issuer_id: "aex-ca-v1",
            crl_number: 7,
            this_update: "2026-11-21T05:00:00Z",
            next_update: "2026-11-28T05:00:00Z",
            entries: &entries,
        };
        assert_eq!(
            body.canonical(),
            r#"{"crl_number":7,"entries":[{"certificate_id":"cert_a","reason":"key compromise","revoked_at":"2026-11-21T05:00:00Z","serial":"0f"}],"issuer":"AEX Certificate Authority","issuer_id":"aex-ca-v1","next_update":"2026-11-28T05:00:00Z","this_update":"2026-11-21T05:00:00Z"}"#
        );
    }
}
