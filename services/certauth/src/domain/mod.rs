//! Certauth's rules, free of I/O: request validation, CA key material, the signed credential and
//! its verification, X.509 certificates and CRLs, and trust and reputation scores.

pub mod ca;
pub mod credential;
pub mod crl;
pub mod reputation;
pub mod request;
pub mod x509;
