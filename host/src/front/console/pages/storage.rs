//! An adapter's storage page, for admins: its keys by prefix a page at a time, one value
//! (masked and bounded, as the API shows it) and a button to delete a key.

use super::*;
use crate::operations::StoredValue;

/// What the storage page shows: the keys of one page, and the value asked for, if any.
pub(crate) struct StorageView<'a> {
    /// The adapter.
    pub adapter: &'a str,
    /// The prefix the keys were listed by.
    pub prefix: &'a str,
    /// The keys of this page.
    pub keys: &'a [String],
    /// Where the next page starts, when this one is full.
    pub next_after: Option<&'a str>,
    /// The value asked for (`key`), or `None` with the key when it is not there.
    pub shown: Option<(&'a str, Option<&'a StoredValue>)>,
    /// A note to show once (after a delete).
    pub done: Option<&'a str>,
}

/// Storage: keys, one value, delete buttons.
pub(crate) fn storage(viewer: &Viewer, view: &StorageView<'_>) -> Markup {
    let base = format!("/ui/adapters/{}/storage", view.adapter);
    let link = |extra: &[(&str, &str)]| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("prefix", view.prefix);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("{base}?{}", q.finish())
    };
    frame(
        Some(viewer),
        "/ui",
        &format!("Storage of {}", view.adapter),
        html! {
            h1 { "Storage of " (view.adapter) }
            @if let Some(done) = view.done { p.notice role="status" { (done) } }
            p.muted { "Watermarks, cursors and markers this adapter keeps. Values are shown with secret-looking fields masked; reading one and deleting a key are logged with your token." }
            form.filter method="get" action=(base) {
                label { "Keys starting with " input type="text" name="prefix" value=(view.prefix); }
                " " button type="submit" { "List" }
            }
            @if let Some((key, value)) = view.shown {
                section.value {
                    h2 { code { (key) } }
                    @match value {
                        Some(v) => {
                            p.muted { (v.bytes) " bytes" @if v.cut { ", the first 64 KiB shown" } }
                            pre { @if let Some(j) = &v.json { (serde_json::to_string_pretty(j).unwrap_or_default()) } @else if let Some(t) = &v.text { (t) } }
                        }
                        None => { p.notice { "No such key (deleted, expired, or never written)." } }
                    }
                }
            }
            @if view.keys.is_empty() {
                p.notice { "No keys" @if !view.prefix.is_empty() { " starting with " code { (view.prefix) } } "." }
            } @else {
                div.scroll { table.storage {
                    thead { tr { th { "Key" } th {} } }
                    tbody {
                        @for key in view.keys {
                            tr {
                                td { a href=(link(&[("key", key)])) { code { (key) } } }
                                td { (action(viewer, &format!("{base}/delete"), "Delete", "cancel", &[("key", key), ("prefix", view.prefix)])) }
                            }
                        }
                    }
                } }
            }
            @if let Some(after) = view.next_after { p { a href=(link(&[("after", after)])) { "Next keys →" } } }
        },
    )
}
