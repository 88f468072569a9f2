//! Shared pieces of calbridge's example programs: both API emulators started in-process,
//! signed in, with the real connectors pointed at them — what the quickstart, the CLI's
//! `--emulate` mode and the end-to-end tests run against.

pub mod emulated;
