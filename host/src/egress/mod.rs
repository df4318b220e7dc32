//! Where adapters may send requests: the allow-list a manifest declares, and the resolver that
//! keeps names from leading to internal addresses the list does not grant. The manifest parses
//! the list; outbound HTTP enforces it.

pub mod allowed;
pub mod resolve;
