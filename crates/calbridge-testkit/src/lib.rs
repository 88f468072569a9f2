//! In-process emulators of the Microsoft Graph and Salesforce REST endpoints that calbridge's
//! connectors use, served over real HTTP on `127.0.0.1` (a random port), stateful, seedable,
//! inspectable, and able to inject the faults real services produce (throttling, 5xx,
//! dropped connections, slow answers, expired tokens and cursors).
//!
//! They serve calbridge's own tests, benches and examples, and downstream users' tests.

mod crypto;
pub mod graph;
pub mod salesforce;
mod segments;
