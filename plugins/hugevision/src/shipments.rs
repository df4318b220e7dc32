//! API09APDF: pending shipments by filters. The query marks what it returns as "processing" at
//! the platform, so its request id is persisted like a submission's: a resend after a lost
//! answer carries the same id.

use crate::envelope::{Outcome, Shape, classify, text};
use crate::platform::{Platform, request_id};
use weft_sdk::error::{detail, invalid_rows};
use weft_sdk::{AdapterError, CallContext, Result, Value, dates, json, storage};

const OP: &str = "query-pending-shipments";

/// Filters of the manual: (name, max characters, is a date).
const FILTERS: &[(&str, usize, bool)] = &[
    ("org_Value", 40, false),
    ("org_Name", 60, false),
    ("doctype_Name", 60, false),
    ("documentNo", 20, false),
    ("poReference", 20, false),
    ("documentNo_Order", 20, false),
    ("poReference_Order", 20, false),
    ("bpartner_Value", 40, false),
    ("bpartner_Name", 60, false),
    ("warehouse_Value", 40, false),
    ("warehouse_Name", 60, false),
    ("warehouse_ReferenceNo", 40, false),
    ("movementDate", 10, true),
    ("movementDateTo", 10, true),
];

/// Queries pending shipments; "No Data!" is an empty list.
pub fn query(p: &Platform, ctx: &CallContext, input: Value) -> Result<Value> {
    let Value::Object(mut filters) = input else {
        return Err(AdapterError::invalid_input(
            "input: expected an object of filters (org_Value, documentNo, movementDate, …)",
        ));
    };
    let given = match filters.remove("requestId") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 36 => Some(s),
        Some(other) => {
            return Err(AdapterError::invalid_input(format!(
                "requestId: 1 to 36 characters, found {other}"
            )));
        }
    };
    let mut problems = Vec::new();
    for (key, value) in &filters {
        let Some((_, max, is_date)) = FILTERS.iter().find(|(f, ..)| f == key) else {
            problems.push(detail(None, Some(key), None, "not a filter of API09APDF"));
            continue;
        };
        match value {
            Value::String(s) if s.chars().count() > *max => problems.push(detail(
                None,
                Some(key),
                None,
                format!("at most {max} characters"),
            )),
            Value::String(s) if *is_date => {
                if let Err(e) = dates::check_date(s) {
                    problems.push(detail(None, Some(key), None, e));
                }
            }
            Value::String(_) => {}
            other => problems.push(detail(
                None,
                Some(key),
                None,
                format!("expected a string, found {other}"),
            )),
        }
    }
    if let Some(e) = invalid_rows("filters", problems) {
        return Err(e);
    }
    let fields = Value::Object(filters);
    let id = request_id(p, ctx, OP, given.as_deref(), &fields)?.id;
    // Set while a send of this query may have been processed unseen (see below).
    let marker = format!("inflight/{id}");
    let uncertain = storage::get(&marker)?.is_some();
    let answer = p.send_marked(OP, &id, &fields, Some((&marker, uncertain)))?;
    match classify("API09APDF", answer, &Shape::default(), true)? {
        Outcome::Done(answer) | Outcome::Pending(answer) => {
            let shipments = answer
                .get("docList")
                .filter(|d| d.is_array())
                .cloned()
                .unwrap_or_else(|| json!([]));
            let empty = shipments.as_array().is_none_or(Vec::is_empty);
            if empty && uncertain {
                // An earlier send of this very query may have been answered, its shipments
                // marked as being processed at the platform, and the answer lost: "No Data!"
                // now cannot tell "none pending" from "all handed to the lost answer".
                return Err(AdapterError::rejected(
                    "outcome-unknown",
                    format!(
                        "API09APDF requestId {id}: this query was sent before and its answer was lost; the platform now answers \"No Data!\", so the shipments of the first answer, if there were any, are marked as being processed at HugeVision-SCM and never arrived here. Check the shipments marked as processing for requestId {id} at the platform (or have them re-exported) before querying again with a new requestId"
                    ),
                ));
            }
            storage::delete(&marker)?;
            Ok(json!({
                "requestId": id,
                "shipments": shipments,
                "message": text(&answer, "errorMsg"),
                "responseTime": text(&answer, "responseTime"),
            }))
        }
        Outcome::Duplicate(message) => Err(AdapterError::rejected(
            "6",
            format!("API09APDF: requestId {id}: {message}"),
        )),
    }
}
