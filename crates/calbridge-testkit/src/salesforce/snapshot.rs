//! Saving the live Event records and loading them into another emulator with their ids and
//! audit fields, so that an emulated org can outlive a process (the `calbridge --emulate`
//! CLI keeps its calendars in a file between runs).

use serde_json::{Map, Value};

use super::SalesforceEmulator;
use super::records::{self, Mode};
use super::server::lock;

impl SalesforceEmulator {
    /// Every live Event record with every stored field (`Id`, `OwnerId`, `CreatedDate`,
    /// `SystemModstamp`, custom fields, …), in creation order, as
    /// [`restore_events`](Self::restore_events) reads them back. Deleted records (the
    /// Recycle Bin) are not included.
    #[must_use]
    pub fn snapshot_events(&self) -> Vec<Value> {
        let st = lock(&self.shared);
        st.live_rows()
            .map(|row| {
                let mut fields: Map<String, Value> = row
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                fields.insert("Id".to_owned(), Value::String(row.id.clone()));
                Value::Object(fields)
            })
            .collect()
    }

    /// Loads records saved by [`snapshot_events`](Self::snapshot_events) (possibly by another
    /// emulator), keeping their ids and audit fields; ids minted later never repeat them.
    /// Custom fields and related records they use must be declared first. Returns how many
    /// were loaded.
    ///
    /// # Errors
    /// A record that is not an object, has an id already present, or that Salesforce would
    /// refuse; the records before it stay loaded.
    pub fn restore_events(&self, events: &[Value]) -> Result<usize, String> {
        let mut st = lock(&self.shared);
        let creator = st.default_user();
        for (i, event) in events.iter().enumerate() {
            let obj = event
                .as_object()
                .ok_or_else(|| format!("saved record {i} is not a JSON object"))?;
            records::create(&mut st, obj, &creator, Mode::Seed).map_err(|errors| {
                let text: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .collect();
                format!("saved record {i}: {}", text.join("; "))
            })?;
        }
        Ok(events.len())
    }
}
