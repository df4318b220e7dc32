//! A watermark: how far a pull from a platform has read ("every order updated after
//! 2026-12-07T08:00:00Z"), kept in storage. Read it before the run, and advance it once the run
//! has read everything it asked for: a run that fails on page 3 leaves it where it was, so the
//! next run asks again from the same point and loses nothing.
//!
//! Marks compare as text, so write them in a form that sorts: RFC 3339 in UTC (`…Z`,
//! [`crate::dates::format_rfc3339`]), or zero-padded numbers. Two runs at once cannot move the
//! mark backwards: advancing keeps the greater of the two.

use crate::{Result, storage};

/// A watermark kept under a storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    key: String,
    read: Option<String>,
}

impl Watermark {
    /// The watermark under storage key `key` (`None` until the first run advances it).
    pub fn load(key: &str) -> Result<Self> {
        let read = storage::get(key)?.map(|b| String::from_utf8_lossy(&b).into_owned());
        Ok(Self {
            key: key.to_string(),
            read,
        })
    }

    /// Where the last successful run got to.
    pub fn since(&self) -> Option<&str> {
        self.read.as_deref()
    }

    /// The newest of `marks` (each row's `updated_at`, say): what to advance to.
    pub fn newest<'a>(marks: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        marks.into_iter().max()
    }

    /// Moves the mark to `to` if that is past where it stands — call it last, once everything
    /// since the mark was read and handled. Answers where the mark stands now.
    pub fn advance(mut self, to: &str) -> Result<String> {
        loop {
            if self.read.as_deref().is_some_and(|r| r >= to) {
                return Ok(self.read.unwrap_or_default());
            }
            let expected = self.read.as_ref().map(|r| r.as_bytes().to_vec());
            if storage::compare_and_swap(&self.key, expected.as_deref(), Some(to.as_bytes()))? {
                return Ok(to.to_string());
            }
            // Another run moved it meanwhile: compare with where it is now.
            self.read = Watermark::load(&self.key)?.read;
        }
    }
}
