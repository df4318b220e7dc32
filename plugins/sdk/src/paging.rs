//! Reading a platform's list page by page — by cursor, by offset or by page number — each page
//! a durable step, so that a call run again after a lost answer on page 5 reads from page 5,
//! not from page 1; with a bound on pages, so that a platform that never says "last page"
//! cannot keep a call going until its timeout.
//!
//! ```ignore
//! let rows: Vec<Row> = paging::all("orders", At::Cursor(None), 100, |at| {
//!     let mut r = Request::get(join(&base, "/orders")).query(&[("limit", "100")]);
//!     if let At::Cursor(Some(c)) = at { r = r.query(&[("cursor", c)]); }
//!     let answer: Answer = r.send()?.classify("orders")?.json()?;
//!     Ok(Page { items: answer.data, next: answer.next_cursor.map(|c| At::Cursor(Some(c))) })
//! })?;
//! ```

use crate::{AdapterError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The code of the error a list answers when it has more pages than its bound.
pub const TOO_MANY_PAGES: &str = "too-many-pages";

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum At {
    /// After the platform's cursor (`None`: the first page).
    Cursor(Option<String>),
    /// At this row offset (0: the first page).
    Offset(usize),
    /// At this page number (the first is the platform's own: 0 or 1).
    Number(u64),
}

/// One page as the platform answered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// The page's rows.
    pub items: Vec<T>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<At>,
}

impl<T> Page<T> {
    /// A page of an offset-paged list of pages of `size` rows starting at `offset`: the next
    /// page starts after it unless it came back short (the last) or `total` says so.
    pub fn by_offset(items: Vec<T>, offset: usize, size: usize, total: Option<usize>) -> Self {
        let end = offset + items.len();
        let more = items.len() >= size.max(1) && total.is_none_or(|t| end < t);
        Self {
            items,
            next: more.then_some(At::Offset(end)),
        }
    }

    /// A page of a numbered list (page `number` of pages of `size` rows): the next page
    /// follows unless this one came back short or `total` rows are read.
    pub fn by_number(
        items: Vec<T>,
        number: u64,
        size: usize,
        total: Option<usize>,
        read_before: usize,
    ) -> Self {
        let read = read_before + items.len();
        let more = items.len() >= size.max(1) && total.is_none_or(|t| read < t);
        Self {
            items,
            next: more.then_some(At::Number(number + 1)),
        }
    }
}

/// Every row of list `name`, from `start`, at most `max_pages` pages: each page fetched by
/// `fetch` as step `{name}/page/{n}` (a read: run again when it got no answer). More pages
/// than `max_pages` is a `rejected` error coded [`TOO_MANY_PAGES`]: raise the bound, or narrow
/// the query.
pub fn all<T: Serialize + DeserializeOwned>(
    name: &str,
    start: At,
    max_pages: usize,
    mut fetch: impl FnMut(&At) -> Result<Page<T>>,
) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    let mut at = Some(start);
    let mut read = 0usize;
    while let Some(here) = at {
        if read == max_pages {
            return Err(AdapterError::rejected(
                TOO_MANY_PAGES,
                format!(
                    "list {name} has more than {max_pages} pages; read {} rows so far",
                    rows.len()
                ),
            ));
        }
        read += 1;
        let page: Page<T> = crate::steps::run(&format!("{name}/page/{read}"), || fetch(&here))?;
        rows.extend(page.items);
        at = page.next;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_follows_until_a_short_page_or_the_total() {
        assert_eq!(
            Page::by_offset(vec![1, 2], 0, 2, None).next,
            Some(At::Offset(2))
        );
        assert_eq!(
            Page::by_offset(vec![1], 2, 2, None).next,
            None,
            "short: the last"
        );
        assert_eq!(
            Page::by_offset(vec![1, 2], 2, 2, Some(4)).next,
            None,
            "the total is read"
        );
        assert_eq!(
            Page::by_number(vec![1, 2], 1, 2, Some(5), 0).next,
            Some(At::Number(2))
        );
        assert_eq!(Page::by_number(vec![1, 2], 3, 2, Some(6), 4).next, None);
        assert_eq!(Page::<u8>::by_number(vec![], 1, 2, None, 0).next, None);
    }
}
