//! Where a value sits in the file ([`Loc`]), and the one channel through which a deserializer
//! tells [`Sp`](super::raw::Sp) where the value being read is.
//!
//! Two deserializers fill the raw types. serde-saphyr reports locations itself
//! (`serde_saphyr::Spanned`); the loader's fast reader (`fast`) is a plain serde `Deserializer`
//! with no way to pass a location through serde's API, so while it runs it publishes the
//! location of the node about to be deserialized here, and `Sp` reads it. The channel is a
//! thread-local that is empty outside `FastMode::enter`'s scope, so every other caller that
//! deserializes the raw types (serde-saphyr on any thread) is unaffected.

use std::cell::Cell;

use crate::diag::Span;

/// Where a value sits in the file. Offsets are in bytes; line and column are 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
    /// Byte offset of the start.
    pub offset: u32,
    /// Byte length of the scalar (0 or 1 for collections: only their start is known).
    pub len: u32,
}

impl Loc {
    /// A location as serde-saphyr reports it.
    pub(crate) fn from_saphyr(l: serde_saphyr::Location) -> Self {
        let span = l.span();
        Self {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX),
            offset: u32::try_from(span.byte_offset().unwrap_or(0)).unwrap_or(u32::MAX),
            len: u32::try_from(span.byte_len().unwrap_or(0)).unwrap_or(0),
        }
    }

    /// The diagnostic span; `None` when the parser could not tell (line 0).
    pub fn span(self) -> Option<Span> {
        (self.line > 0).then_some(Span {
            line: self.line,
            column: self.column,
            offset: self.offset as usize,
            len: self.len as usize,
        })
    }
}

thread_local! {
    /// While the fast reader deserializes on this thread: the location of the node about to be
    /// deserialized. `None` otherwise.
    static CURRENT: Cell<Option<Loc>> = const { Cell::new(None) };
}

/// The location published by the fast reader, when it is running on this thread.
pub(crate) fn current() -> Option<Loc> {
    CURRENT.with(Cell::get)
}

/// The fast reader's side of the channel; publishing is only possible through it.
pub(crate) struct FastMode {
    /// What the channel held before (nested use restores it).
    outer: Option<Loc>,
}

impl FastMode {
    /// Opens the channel on this thread, starting at `root`; it closes when the guard drops,
    /// also on unwinding.
    pub(crate) fn enter(root: Loc) -> Self {
        Self {
            outer: CURRENT.with(|c| c.replace(Some(root))),
        }
    }
}

/// Publishes the location of the node about to be deserialized; does nothing unless a
/// [`FastMode`] is open on this thread.
pub(crate) fn publish(loc: Loc) {
    CURRENT.with(|c| {
        if c.get().is_some() {
            c.set(Some(loc));
        }
    });
}

impl Drop for FastMode {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.outer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_open_only_inside_fast_mode() {
        assert_eq!(current(), None);
        publish(Loc::default());
        assert_eq!(current(), None, "closed: publishing does nothing");
        let at = |line| Loc {
            line,
            column: 1,
            offset: 0,
            len: 0,
        };
        {
            let _mode = FastMode::enter(at(1));
            assert_eq!(current(), Some(at(1)));
            publish(at(7));
            assert_eq!(current(), Some(at(7)));
            // Another thread never sees it.
            assert_eq!(std::thread::spawn(current).join().unwrap(), None);
        }
        assert_eq!(current(), None);
        let unwound = std::panic::catch_unwind(|| {
            let _mode = FastMode::enter(at(3));
            panic!("a deserializer panicked");
        });
        assert!(unwound.is_err());
        assert_eq!(current(), None);
    }
}
