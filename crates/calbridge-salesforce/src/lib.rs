//! calbridge connector for salesforce (in progress).
