//! The JSON format (SPEC §5): the [`Report`] with a trailing newline, laid out one list element
//! per line.
//!
//! Layout: the top-level object and the objects in its fields (`run`, `since_last`, …) are
//! indented, one field per line; every element of a list in them (a link, a service, a risk, a
//! root cause) is written compactly on a line of its own. So `grep '"id":"order-db"'` finds a
//! whole service, a diff of two reports shows what changed service by service, and `jq` reads
//! it as any JSON. Measured on the 100,000-service catalogue of `scripts/gen_topology.py`:
//! 40.8 MB this way, against 63 MB for the same report through `serde_json`'s pretty printer
//! (which spends the difference on indentation), so the default report stays under 50 MB.

use std::io::{self, Write as _};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use crate::report::report::Report;

/// Renders `report` as JSON ending in a newline.
pub fn render_json(report: &Report) -> String {
    to_json(report)
}

/// Any value in the report layout, ending in a newline.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::with_capacity(1 << 16);
    write_json(value, &mut buf).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// Writes `value` in the report layout, ending in a newline, straight to `w` (no copy of the
/// whole text in memory: 41 MB less at the peak for the 100,000-service catalogue).
pub fn write_json<T: Serialize + ?Sized, W: io::Write>(value: &T, w: W) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let mut ser = serde_json::Serializer::with_formatter(&mut w, Layout::default());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// How one open container is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One field per line, indented.
    Object,
    /// One element per line, indented; the elements compact.
    List,
    /// On one line.
    Compact,
}

/// The formatter: indented down to the lists' elements, compact below.
#[derive(Debug, Default)]
struct Layout {
    /// Open containers, outermost first, each with whether it holds anything yet.
    stack: Vec<(Mode, bool)>,
    compact: CompactFormatter,
}

impl Layout {
    fn child_mode(&self, object: bool) -> Mode {
        match self.stack.last() {
            None => Mode::Object,
            Some((Mode::Object, _)) if object => Mode::Object,
            Some((Mode::Object, _)) => Mode::List,
            Some(_) => Mode::Compact,
        }
    }

    fn indented(&self) -> usize {
        self.stack
            .iter()
            .filter(|(m, _)| *m != Mode::Compact)
            .count()
    }

    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, object: bool) -> io::Result<()> {
        let mode = self.child_mode(object);
        self.stack.push((mode, false));
        w.write_all(if object { b"{" } else { b"[" })
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, object: bool) -> io::Result<()> {
        let (mode, any) = self.stack.pop().unwrap_or((Mode::Compact, false));
        if mode != Mode::Compact && any {
            newline(w, self.indented())?;
        }
        w.write_all(if object { b"}" } else { b"]" })
    }

    /// Before an element or a key: the separator, and a new line when indented.
    fn item<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        let depth = self.indented();
        let Some((mode, any)) = self.stack.last_mut() else {
            return Ok(());
        };
        *any = true;
        if !first {
            w.write_all(b",")?;
        }
        if *mode == Mode::Compact {
            Ok(())
        } else {
            newline(w, depth)
        }
    }
}

fn newline<W: ?Sized + io::Write>(w: &mut W, depth: usize) -> io::Result<()> {
    w.write_all(b"\n")?;
    for _ in 0..depth {
        w.write_all(b"  ")?;
    }
    Ok(())
}

impl Formatter for Layout {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, false)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, false)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, true)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, true)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        match self.stack.last() {
            Some((Mode::Compact, _)) => w.write_all(b":"),
            _ => w.write_all(b": "),
        }
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        self.compact.write_char_escape(w, escape)
    }
}

#[cfg(test)]
mod tests {
    use super::to_json;

    #[test]
    fn indents_down_to_list_elements_and_writes_them_on_one_line() {
        let v = serde_json::json!({
            "a": [{"x": [1, 2], "y": {"z": "q\""}}, {"x": []}],
            "b": {"c": [["d"]], "e": {}},
            "f": [],
            "g": "h"
        });
        let text = to_json(&v);
        assert_eq!(
            text,
            "{\n  \"a\": [\n    {\"x\":[1,2],\"y\":{\"z\":\"q\\\"\"}},\n    {\"x\":[]}\n  ],\n  \"b\": {\n    \"c\": [\n      [\"d\"]\n    ],\n    \"e\": {}\n  },\n  \"f\": [],\n  \"g\": \"h\"\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
