//! calbridge connector for outlook (in progress).
