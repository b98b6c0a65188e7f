//! Postgres encodings (feature `sqlx`): rows hold [`Currency`], [`Timestamp`] and typed ids
//! directly. A currency is `TEXT` (its ISO code), a timestamp `TIMESTAMPTZ`, an id `TEXT`.
//!
//! Decoding never defaults: a stored code that is not a currency we know, a timestamp outside
//! the years 0000–9999, or an id without its prefix is a decode error naming the value's
//! problem, so a bad row fails its query instead of becoming USD, the epoch or an empty id.

use crate::{
    AccountId, ApiKeyId, BidId, CertRequestId, CertificateId, ContractId, Currency, EvaluationId, EventId, ProviderId,
    ReceiptId, RequestId, SubscriptionId, TenantId, Timestamp, TransferId, WebhookDeliveryId, WorkId,
};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef, Postgres};
use sqlx::{Decode, Encode, Type};
use time::OffsetDateTime;

impl Type<Postgres> for Currency {
    fn type_info() -> PgTypeInfo {
        <str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <str as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for Currency {
    fn array_type_info() -> PgTypeInfo {
        <&str as PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for Currency {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.code(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for Currency {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let code = <&str as Decode<Postgres>>::decode(value)?;
        Ok(code.parse::<Currency>()?)
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for Timestamp {
    fn array_type_info() -> PgTypeInfo {
        <OffsetDateTime as PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode(OffsetDateTime::from(*self), buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let datetime = <OffsetDateTime as Decode<Postgres>>::decode(value)?;
        Ok(Timestamp::try_from(datetime)?)
    }
}

/// `TEXT` encodings of the typed ids; decoding checks the prefix and the shape.
macro_rules! text_ids {
    ($($name:ident),* $(,)?) => {$(
        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <str as Type<Postgres>>::compatible(ty)
            }
        }

        impl PgHasArrayType for $name {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    )*};
}

text_ids!(
    AccountId,
    ApiKeyId,
    BidId,
    CertRequestId,
    CertificateId,
    ContractId,
    EvaluationId,
    EventId,
    ProviderId,
    ReceiptId,
    RequestId,
    SubscriptionId,
    TenantId,
    TransferId,
    WebhookDeliveryId,
    WorkId,
);
