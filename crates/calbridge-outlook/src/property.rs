//! calbridge's own single-value extended property: the Salesforce relation, the snap fields
//! and the counterpart's Salesforce id, stored on the Outlook event itself so that every
//! machine running calbridge against this mailbox sees them.

use serde::{Deserialize, Serialize};

use calbridge_model::{ItemId, ModelError, RecordLink, SalesforceId, SnapFields};

/// The property's namespace GUID, chosen once for calbridge and never to change: stored
/// events are found by it.
pub const PROPERTY_NAMESPACE: &str = "{6b2f4e1c-9a73-4d58-b0e2-5c8d17f3a942}";

/// The property's id as Graph spells it: `String {namespace} Name calbridge`.
pub const EXTENDED_PROPERTY_ID: &str =
    "String {6b2f4e1c-9a73-4d58-b0e2-5c8d17f3a942} Name calbridge";

/// The field name reported for a malformed property value.
const FIELD: &str = "singleValueExtendedProperties";

/// The property's value: compact JSON `{"what":..,"who":..,"snap":{..},"sf":..}`, each
/// member left out when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CalbridgeProperty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    what: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    who: Option<String>,
    #[serde(default, skip_serializing_if = "SnapFields::is_empty")]
    snap: SnapFields,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sf: Option<String>,
}

/// What the property says, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PropertyData {
    pub(crate) link: RecordLink,
    pub(crate) snap: SnapFields,
    pub(crate) counterpart: Option<ItemId>,
}

impl PropertyData {
    /// Whether there is nothing to store.
    pub(crate) fn is_empty(&self) -> bool {
        !self.link.is_related() && self.snap.is_empty() && self.counterpart.is_none()
    }

    /// The property value to write.
    pub(crate) fn to_value(&self) -> String {
        let wire = CalbridgeProperty {
            what: self.link.what.as_ref().map(ToString::to_string),
            who: self.link.who.as_ref().map(ToString::to_string),
            snap: self.snap.clone(),
            sf: self
                .counterpart
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .filter(|id| !id.is_empty()),
        };
        // Serialising strings and JSON values cannot fail; an empty object is the fallback.
        serde_json::to_string(&wire).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The `singleValueExtendedProperties` entry to send.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": EXTENDED_PROPERTY_ID, "value": self.to_value() })
    }

    /// Parses a stored value. Anything but the documented shape — bad JSON, ids that are not
    /// Salesforce ids, a non-object `snap` — is a typed error naming the property.
    pub(crate) fn parse(value: &str) -> Result<Self, ModelError> {
        let malformed = |reason: String| ModelError::unparsable(FIELD, value, reason);
        // Through `Value` first: serde would also accept a JSON array for a struct.
        let json: serde_json::Value = serde_json::from_str(value)
            .map_err(|e| malformed(format!("calbridge property: {e}")))?;
        if !json.is_object() {
            return Err(malformed("calbridge property: not a JSON object".into()));
        }
        let wire: CalbridgeProperty = serde_json::from_value(json)
            .map_err(|e| malformed(format!("calbridge property: {e}")))?;
        let parse_id = |field, id: Option<String>| {
            id.map(|id| SalesforceId::parse_field(field, &id))
                .transpose()
        };
        Ok(Self {
            link: RecordLink {
                what: parse_id("WhatId", wire.what)?,
                who: parse_id("WhoId", wire.who)?,
            },
            snap: wire.snap,
            counterpart: wire.sf.filter(|s| !s.is_empty()).map(ItemId::new),
        })
    }
}

/// Whether `id` names calbridge's property. Graph may echo the type and GUID in another case;
/// the name part is case-sensitive.
pub(crate) fn is_calbridge_property(id: &str) -> bool {
    let mut parts = id.split_whitespace();
    let (Some(kind), Some(guid), Some(name_kw), Some(name), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    kind.eq_ignore_ascii_case("String")
        && guid.eq_ignore_ascii_case(PROPERTY_NAMESPACE)
        && name_kw.eq_ignore_ascii_case("Name")
        && name == "calbridge"
}

/// The `$expand` that returns calbridge's property with every event read.
pub(crate) fn expand_clause() -> String {
    format!("singleValueExtendedProperties($filter=id eq '{EXTENDED_PROPERTY_ID}')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_every_member() {
        let mut data = PropertyData {
            link: RecordLink {
                what: Some("001A0000006Vm9r".parse().unwrap()),
                who: Some("003A0000006Vm9rIAC".parse().unwrap()),
            },
            snap: SnapFields::new(),
            counterpart: Some(ItemId::new("00UA0000001abcdEAA")),
        };
        data.snap
            .insert("Type".into(), serde_json::json!("Meeting"));
        data.snap.insert(
            "Meeting_Outcome__c".into(),
            serde_json::json!({"n": [1, 2]}),
        );
        let value = data.to_value();
        assert!(!value.contains(' '), "compact: {value}");
        assert_eq!(PropertyData::parse(&value).unwrap(), data);
    }

    #[test]
    fn empty_members_are_left_out() {
        assert_eq!(PropertyData::default().to_value(), "{}");
        assert!(PropertyData::parse("{}").unwrap().is_empty());
        // Unknown members (written by a newer calbridge) are ignored.
        assert!(PropertyData::parse(r#"{"v":2}"#).unwrap().is_empty());
    }

    #[test]
    fn malformed_values_are_typed_errors() {
        for bad in ["", "not json", "[]", r#"{"snap":[1]}"#, r#"{"what":7}"#] {
            let err = PropertyData::parse(bad).unwrap_err();
            assert_eq!(err.field(), FIELD, "{bad}: {err}");
        }
        let err = PropertyData::parse(r#"{"what":"nope"}"#).unwrap_err();
        assert_eq!(err.field(), "WhatId");
    }

    #[test]
    fn property_id_matching() {
        assert!(is_calbridge_property(EXTENDED_PROPERTY_ID));
        assert!(is_calbridge_property(
            "string {6B2F4E1C-9A73-4D58-B0E2-5C8D17F3A942} name calbridge"
        ));
        assert!(!is_calbridge_property(
            "String {6b2f4e1c-9a73-4d58-b0e2-5c8d17f3a942} Name Calbridge"
        ));
        assert!(!is_calbridge_property(
            "String {00000000-0000-0000-0000-000000000000} Name calbridge"
        ));
    }
}
