//! The Microsoft Graph emulator (in progress).
