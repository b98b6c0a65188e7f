//! What a tenant is and what a valid tenant or key request looks like.

use super::FieldError;
use super::ratelimit::TenantOverrides;
use serde_json::Value;

/// What the tenant does on the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantType {
    Requestor,
    Provider,
    Both,
}

impl TenantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requestor => "REQUESTOR",
            Self::Provider => "PROVIDER",
            Self::Both => "BOTH",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "REQUESTOR" => Some(Self::Requestor),
            "PROVIDER" => Some(Self::Provider),
            "BOTH" => Some(Self::Both),
            _ => None,
        }
    }
}

/// Whether the tenant's credentials work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
        }
    }

    /// Unknown values (impossible under the table's CHECK) are treated as suspended: fail closed.
    pub fn from_db(value: &str) -> Self {
        if value == "ACTIVE" { Self::Active } else { Self::Suspended }
    }
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_REASON_CHARS: usize = 500;

/// A tenant ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    pub name: String,
    pub tenant_type: TenantType,
    pub contact_email: Option<String>,
    pub billing_email: Option<String>,
    pub metadata: Value,
}

/// Validates the fields of `POST /v1/tenants`; the first problem found is reported.
pub fn validate_new_tenant(
    name: Option<&str>,
    tenant_type: Option<&str>,
    contact_email: Option<&str>,
    billing_email: Option<&str>,
    metadata: Option<&Value>,
) -> Result<NewTenant, FieldError> {
    let name = validate_name("name", name)?;
    let tenant_type = tenant_type.ok_or_else(|| FieldError::new("type", "type is required")).and_then(|t| {
        TenantType::parse(t).ok_or_else(|| FieldError::new("type", "type must be REQUESTOR, PROVIDER or BOTH"))
    })?;
    let contact_email = validate_email("contact_email", contact_email)?;
    let billing_email = validate_email("billing_email", billing_email)?;
    let metadata = match metadata {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(value @ Value::Object(_)) => {
            let encoded = serde_json::to_string(value).unwrap_or_default();
            if encoded.is_empty() || encoded.len() > MAX_METADATA_BYTES {
                return Err(FieldError::new(
                    "metadata",
                    format!("metadata must be at most {MAX_METADATA_BYTES} bytes"),
                ));
            }
            // Postgres JSONB cannot store NUL; refuse it here rather than fail in the database.
            if encoded.contains("\\u0000") {
                return Err(FieldError::new("metadata", "metadata must not contain NUL characters"));
            }
            value.clone()
        }
        Some(_) => return Err(FieldError::new("metadata", "metadata must be a JSON object")),
    };
    Ok(NewTenant { name, tenant_type, contact_email, billing_email, metadata })
}

/// A trimmed, non-empty name of at most [`MAX_NAME_CHARS`] characters without control characters.
pub fn validate_name(field: &'static str, name: Option<&str>) -> Result<String, FieldError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(FieldError::new(field, format!("{field} is required")));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(field, format!("{field} must be at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, format!("{field} must not contain control characters")));
    }
    Ok(name.to_string())
}

/// An optional e-mail address: one `@` with text on both sides, no spaces, bounded length.
pub fn validate_email(field: &'static str, email: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(email) = email.map(str::trim) else { return Ok(None) };
    let valid = email.len() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(Some(email.to_string()))
    } else {
        Err(FieldError::new(field, format!("{field} is not a valid e-mail address")))
    }
}

/// An optional free-text reason (suspension, activation).
pub fn validate_reason(reason: Option<&str>) -> Result<Option<String>, FieldError> {
    match reason.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(FieldError::new("reason", format!("reason must be at most {MAX_REASON_CHARS} characters")))
        }
        Some(r) if r.contains('\0') => Err(FieldError::new("reason", "reason must not contain NUL characters")),
        Some(r) => Ok(Some(r.to_string())),
    }
}

/// The largest rate or burst an operator may set: far above what one gateway serves, well
/// inside the rate-limit script's arithmetic.
pub const MAX_QUOTA: i64 = 10_000_000;

/// Quotas as the operator sets them: rates 1 – [`MAX_QUOTA`] a minute, a burst 0 – [`MAX_QUOTA`],
/// `None` for the gateway default. Out of range is refused, never clamped.
pub fn validate_quotas(
    per_minute: Option<i64>,
    burst: Option<i64>,
    money_per_minute: Option<i64>,
) -> Result<TenantOverrides, FieldError> {
    let within = |field: &'static str, value: Option<i64>, min: i64| match value {
        None => Ok(None),
        Some(v) if (min..=MAX_QUOTA).contains(&v) => Ok(i32::try_from(v).ok()),
        Some(_) => Err(FieldError::new(field, format!("{field} must be between {min} and {MAX_QUOTA}, or null"))),
    };
    Ok(TenantOverrides {
        per_minute: within("requests_per_minute", per_minute, 1)?,
        burst: within("burst", burst, 0)?,
        money_per_minute: within("money_requests_per_minute", money_per_minute, 1)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_complete_tenant_is_accepted() {
        let meta = json!({"team": "x"});
        let t = validate_new_tenant(Some(" Acme "), Some("BOTH"), Some("ops@acme.io"), None, Some(&meta)).unwrap();
        assert_eq!(t.name, "Acme");
        assert_eq!(t.tenant_type, TenantType::Both);
        assert_eq!(t.contact_email.as_deref(), Some("ops@acme.io"));
        assert_eq!(t.metadata, meta);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<Value>, &'a str);
        let cases: [Case<'_>; 8] = [
            (None, Some("BOTH"), None, None, None, "name"),
            (Some("   "), Some("BOTH"), None, None, None, "name"),
            (Some("a"), None, None, None, None, "type"),
            (Some("a"), Some("both"), None, None, None, "type"),
            (Some("a"), Some("BOTH"), Some("not-an-email"), None, None, "contact_email"),
            (Some("a"), Some("BOTH"), None, Some("a@b"), None, "billing_email"),
            (Some("a"), Some("BOTH"), None, None, Some(json!([1])), "metadata"),
            (Some("a"), Some("BOTH"), None, None, Some(json!({"k": "nul\u{0}"})), "metadata"),
        ];
        for (name, ty, contact, billing, meta, field) in cases {
            let error = validate_new_tenant(name, ty, contact, billing, meta.as_ref()).unwrap_err();
            assert_eq!(error.field, field, "{error:?}");
        }
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(validate_new_tenant(Some(&long), Some("BOTH"), None, None, None).unwrap_err().field, "name");
    }

    #[test]
    fn reasons_are_bounded_and_nul_free() {
        assert_eq!(validate_reason(Some("  ")), Ok(None));
        assert_eq!(validate_reason(Some("fraud")), Ok(Some("fraud".to_string())));
        assert_eq!(validate_reason(Some("a\0b")).unwrap_err().field, "reason");
        assert_eq!(validate_reason(Some(&"x".repeat(MAX_REASON_CHARS + 1))).unwrap_err().field, "reason");
    }

    #[test]
    fn unknown_status_fails_closed() {
        assert_eq!(TenantStatus::from_db("ACTIVE"), TenantStatus::Active);
        assert_eq!(TenantStatus::from_db("weird"), TenantStatus::Suspended);
    }

    proptest! {
        #[test]
        fn email_validation_never_panics(s in ".{0,300}") {
            let _ = validate_email("contact_email", Some(&s));
        }
    }

    #[test]
    fn quotas_are_refused_out_of_range_never_clamped() {
        let set = validate_quotas(Some(600_000), Some(0), None).unwrap();
        assert_eq!(set, TenantOverrides { per_minute: Some(600_000), burst: Some(0), money_per_minute: None });
        assert_eq!(validate_quotas(None, None, None).unwrap(), TenantOverrides::default());
        assert_eq!(validate_quotas(Some(0), None, None).unwrap_err().field, "requests_per_minute");
        assert_eq!(validate_quotas(None, Some(-1), None).unwrap_err().field, "burst");
        assert_eq!(validate_quotas(None, None, Some(MAX_QUOTA + 1)).unwrap_err().field, "money_requests_per_minute");
        assert!(validate_quotas(Some(MAX_QUOTA), Some(MAX_QUOTA), Some(1)).is_ok());
    }
}
