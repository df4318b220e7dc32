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
//!     Ok(Page::by_cursor(answer.data, answer.next_cursor))
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
    /// How many rows the whole list holds, where the platform says.
    #[serde(default)]
    pub total: Option<usize>,
}

/// What [`read`] read of a list.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// Every row, in the platform's order.
    pub items: Vec<T>,
    /// Pages read.
    pub pages: usize,
    /// The list's size as its last page said, if it said.
    pub total: Option<usize>,
}

impl<T> Page<T> {
    /// A page of `items`, the next one starting at `next` (`None`: this is the last).
    pub fn new(items: Vec<T>, next: Option<At>) -> Self {
        Self {
            items,
            next,
            total: None,
        }
    }

    /// A page of a cursor-paged list: the next page follows the platform's `cursor`, if it
    /// gave one (an empty cursor counts as none).
    pub fn by_cursor(items: Vec<T>, cursor: Option<String>) -> Self {
        let next = cursor.filter(|c| !c.is_empty());
        Self::new(items, next.map(|c| At::Cursor(Some(c))))
    }

    /// A page of an offset-paged list of pages of `size` rows starting at `offset`: the next
    /// page starts after it unless it came back short (the last) or `total` says so.
    pub fn by_offset(items: Vec<T>, offset: usize, size: usize, total: Option<usize>) -> Self {
        let end = offset + items.len();
        let more = items.len() >= size.max(1) && total.is_none_or(|t| end < t);
        Self {
            items,
            next: more.then_some(At::Offset(end)),
            total,
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
            total,
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
    fetch: impl FnMut(&At) -> Result<Page<T>>,
) -> Result<Vec<T>> {
    read(name, start, max_pages, fetch).map(|listing| listing.items)
}

/// [`all`], answering also how many pages were read and the list's total where the platform
/// gave one.
pub fn read<T: Serialize + DeserializeOwned>(
    name: &str,
    start: At,
    max_pages: usize,
    mut fetch: impl FnMut(&At) -> Result<Page<T>>,
) -> Result<Listing<T>> {
    let mut listing = Listing {
        items: Vec::new(),
        pages: 0,
        total: None,
    };
    let mut at = Some(start);
    while let Some(here) = at {
        if listing.pages == max_pages {
            return Err(AdapterError::rejected(
                TOO_MANY_PAGES,
                format!(
                    "list {name} has more than {max_pages} pages; read {} rows so far",
                    listing.items.len()
                ),
            ));
        }
        listing.pages += 1;
        let step = format!("{name}/page/{}", listing.pages);
        let page: Page<T> = crate::steps::run(&step, || fetch(&here))?;
        listing.items.extend(page.items);
        listing.total = page.total.or(listing.total);
        at = page.next;
    }
    Ok(listing)
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
