//! The 3Commas client: signing, requests, pacing, retries, wire types and their mapping to the
//! model. Everything botform sends to 3Commas (or to the sandbox) goes through [`Client`].

pub mod client;
pub mod error;
pub mod grid_wire;
pub mod ratelimit;
pub mod record;
pub mod signing;
pub mod wire;

pub use client::{BotsFilter, Client, ClientConfig};
pub use error::ApiError;
pub use signing::Credentials;
