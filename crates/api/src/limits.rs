//! Request limits that are part of the public contract: the gateway and the owning service
//! enforce the same numbers, and clients can size their requests by them.

/// Most transfers in one `POST /v1/transfers`.
pub const MAX_TRANSFER_BATCH: usize = 8189;

/// Largest body of `POST /v1/transfers`, in bytes (4 MiB): room for a full batch of
/// [`MAX_TRANSFER_BATCH`] items averaging up to 512 bytes each (a typical item is about 140).
pub const TRANSFER_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Largest body of every other route, in bytes (1 MiB).
pub const BODY_BYTES: usize = 1024 * 1024;

// A full batch of items averaging 512 bytes fits the transfer body limit.
const _: () = assert!(MAX_TRANSFER_BATCH * 512 <= TRANSFER_BATCH_BODY_BYTES);
const _: () = assert!(BODY_BYTES < TRANSFER_BATCH_BODY_BYTES);
