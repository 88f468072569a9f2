//! The Salesforce emulator (in progress).
