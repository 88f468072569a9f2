//! TEMPORARY STUB (replaced by the real module).
#![allow(missing_docs)]
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeOfDay(u16);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Weekdays(u8);
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Schedule {
    pub every_minutes: u32,
}
impl Schedule {
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.every_minutes == 0 {
            Err(ScheduleError::X)
        } else {
            Ok(())
        }
    }
}
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("x")]
    X,
}
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncMode {
    #[default]
    Manual,
    SnapRecord,
    Auto(Schedule),
}
impl SyncMode {
    pub fn schedule(&self) -> Option<&Schedule> {
        match self {
            Self::Auto(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_snap_record(&self) -> bool {
        matches!(self, Self::SnapRecord)
    }
}
