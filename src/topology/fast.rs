//! Fast path of the loader: a reader for the plain subset of YAML that topology files are written
//! in, deserializing into the same [`raw`](super::raw) types with the same locations.
//!
//! It accepts block mappings and sequences indented with spaces, flow collections (`{ a: b }`,
//! `[a, b]`, over several lines too, so a JSON file is read as well), one-line plain and quoted
//! scalars, comments (tabs in them too), a `---` that starts the document and a `...` that
//! ends it, with LF or CRLF line ends. It declines (returns `None`) on anything else —
//! anchors, aliases, tags, block scalars, multi-line scalars, a tab outside a comment or a
//! quoted scalar, a `\r` that does not end a line, a second document, a duplicate key, a
//! scalar whose type YAML would guess differently (`yes`, `0x1f`, `~`, …), any
//! deserialization error — and the loader then uses the full serde-saphyr path, which also
//! produces every diagnostic. So the fast path never decides what is an error: it only turns
//! plain, valid files into raw types faster.
//!
//! A `services:` section of a megabyte or more is read in pieces of entries on every core
//! ([`Section`]); each piece's tree is freed as soon as it is deserialized, so the trees and
//! the raw types are not both whole in memory. The result is the same as one pass.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::loc::{self, Loc};
use super::raw::{Entries, RawService, RawTopology, Sp};

/// Deeper nesting than this is left to the full parser (and its limits).
const MAX_DEPTH: usize = 64;

/// A `services:` section at least this large is read in pieces, on every core.
const SPLIT_FROM: usize = 1 << 20;

/// About this many bytes of services per piece: each piece's tree is freed once read, so the
/// trees of only a few pieces are in memory at once, beside the raw types they become.
const PIECE: usize = 256 << 10;

/// Parses `source` into the raw types, or `None` when the file is outside the fast subset or
/// does not fit the raw types (the caller then takes the full path).
pub(crate) fn parse(source: &str) -> Option<RawTopology> {
    parse_with(source, SPLIT_FROM, PIECE)
}

/// [`parse`], reading a `services:` section of at least `split_from` bytes in pieces of about
/// `piece` bytes. The result is the same as reading it whole.
fn parse_with(source: &str, split_from: usize, piece: usize) -> Option<RawTopology> {
    if source.contains('\u{feff}') {
        return None;
    }
    // Windows line ends (an export made there): the text is read without its `\r`s, and each
    // offset gets back one byte per line above it. A `\r` anywhere else is declined.
    let crlf = source.contains('\r');
    let unix;
    let source = if crlf {
        if source.matches('\r').count() != source.matches("\r\n").count() {
            return None;
        }
        unix = source.replace("\r\n", "\n");
        unix.as_str()
    } else {
        source
    };
    let mut reader = Reader::new(source);
    reader.split_from = split_from;
    reader.crlf = crlf;
    let (root, section) = reader.document()?;
    let mut raw = {
        let _mode = loc::FastMode::enter(root.loc);
        RawTopology::deserialize(NodeDe(root)).ok()?
    };
    if let Some(section) = section {
        raw.services = section.read(source, piece, crlf)?;
    }
    Some(raw)
}

/// The block mapping under the root's `services:` key, left unread by the root's pass.
#[derive(Debug)]
struct Section {
    /// Indentation of its keys.
    indent: usize,
    /// Start of each line that starts an entry (a key at `indent`), with its 1-based line.
    entries: Vec<(usize, u32)>,
    /// Where the section ends: the start of the root's next line, or the end of the file.
    end: usize,
}

impl Section {
    /// Reads the section in pieces of about `piece` bytes, each on its own reader that ends
    /// where the piece ends, spread over the cores; `None` when any piece is declined or a
    /// name occurs twice.
    fn read(&self, source: &str, piece: usize, crlf: bool) -> Option<Entries<RawService>> {
        let mut pieces: Vec<(usize, u32, usize)> = Vec::new();
        for (i, &(start, line)) in self.entries.iter().enumerate() {
            let next = self.entries.get(i + 1).map_or(self.end, |e| e.0);
            match pieces.last_mut() {
                Some(last) if next - last.0 <= piece => last.2 = next,
                _ => pieces.push((start, line, next)),
            }
        }
        let threads = crate::par::threads_for(pieces.len(), 2);
        let parts = crate::par::chunks(pieces.len(), threads, |range| {
            let mut out = Vec::new();
            for &(start, line, end) in &pieces[range] {
                out.extend(self.read_piece(&source[..end], start, line, crlf)?);
            }
            Some(out)
        });
        let mut services = Vec::with_capacity(self.entries.len());
        for part in parts {
            services.extend(part?);
        }
        // Each piece refused its own duplicates; a name may still occur in two pieces.
        let mut seen = foldhash::HashSet::with_capacity_and_hasher(
            services.len(),
            foldhash::fast::RandomState::default(),
        );
        if !services.iter().all(|(k, _)| seen.insert(k.value.as_str())) {
            return None;
        }
        drop(seen);
        Some(Entries(services))
    }

    /// One piece: the entries from `start` (a line start, on 1-based `line`) to the end of
    /// `source`, as the section's own block mapping would read them.
    fn read_piece(
        &self,
        source: &str,
        start: usize,
        line: u32,
        crlf: bool,
    ) -> Option<Vec<(Sp<String>, RawService)>> {
        let mut r = Reader::new(source);
        r.crlf = crlf;
        r.pos = start + self.indent;
        r.line = line;
        r.line_start = start;
        // Inside the root mapping, as in the whole-file pass (the depth limit counts it).
        r.depth = 1;
        let node = r.block_map(self.indent).ok()?;
        if r.pos < r.b.len() {
            return None;
        }
        let _mode = loc::FastMode::enter(node.loc);
        Entries::<RawService>::deserialize(NodeDe(node))
            .ok()
            .map(|e| e.0)
    }
}

#[derive(Debug)]
enum Kind<'a> {
    /// Text and whether it was plain (unquoted).
    Scalar(Cow<'a, str>, bool),
    Map(Vec<(Node<'a>, Node<'a>)>),
    Seq(Vec<Node<'a>>),
}

#[derive(Debug)]
struct Node<'a> {
    kind: Kind<'a>,
    loc: Loc,
}

/// Declined: outside the subset.
struct No;

type R<T> = Result<T, No>;

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// 1-based line of `pos`.
    line: u32,
    /// Byte offset where the line of `pos` starts.
    line_start: usize,
    /// A byte offset on the current line and its 0-based column in characters: columns are
    /// counted from there, so long lines are not counted again for every value on them.
    column_at: Cell<(usize, usize)>,
    depth: usize,
    /// The file had `\r\n` line ends, read without the `\r`: offsets count them back.
    crlf: bool,
    /// The root's `services:` section is left to [`Section::read`] when it is at least this
    /// many bytes (`usize::MAX`: never).
    split_from: usize,
    /// That section, once the root's pass has skipped it.
    section: Option<Section>,
    /// The least indentation of a line that goes on with a flow collection: one more than the
    /// block the collection is written in (0 for a document that is one flow collection).
    flow_min: usize,
}

fn is_space_or_end(c: Option<u8>) -> bool {
    matches!(c, None | Some(b' ' | b'\n'))
}

impl<'a> Reader<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s,
            b: s.as_bytes(),
            pos: 0,
            line: 1,
            line_start: 0,
            column_at: Cell::new((0, 0)),
            depth: 0,
            crlf: false,
            split_from: usize::MAX,
            section: None,
            flow_min: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn loc(&self, start: usize, len: usize) -> Loc {
        let (mut at, mut column) = self.column_at.get();
        if at < self.line_start || at > start {
            (at, column) = (self.line_start, 0);
        }
        // Characters = bytes that do not continue a UTF-8 sequence.
        column += self.b[at..start]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        self.column_at.set((start, column));
        Loc {
            line: self.line,
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
            offset: u32::try_from(start + if self.crlf { self.line as usize - 1 } else { 0 })
                .unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    /// The root mapping, and the `services:` section when it was left for [`Section::read`]
    /// (then the root holds an empty mapping in its place).
    fn document(mut self) -> Option<(Node<'a>, Option<Section>)> {
        self.document_start().ok()?;
        let indent = self.next_content().ok()??;
        if indent != 0 || self.starts_seq() {
            return None;
        }
        let root = if self.peek() == Some(b'{') {
            // The whole document is one flow mapping (a JSON file).
            let root = self.flow_node().ok()?;
            self.end_of_line().ok()?;
            self.next_content().ok()?;
            root
        } else {
            self.block_map(0).ok()?
        };
        self.document_end().ok()?;
        Some((root, self.section))
    }

    /// Skips the blank and comment lines before the document and a `---` that starts it (alone
    /// on its line, or before a comment).
    fn document_start(&mut self) -> R<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(b'\n') => self.newline(),
                Some(b'#') => self.skip_to_newline(),
                _ => break,
            }
        }
        if self.pos == self.line_start && self.marker(b"---") {
            self.pos += 3;
            self.end_of_line()?;
        }
        Ok(())
    }

    /// After the root: the end of the file, or a `...` followed by nothing but blank lines and
    /// comments (a second document is left to the full parser).
    fn document_end(&mut self) -> R<()> {
        if self.pos < self.b.len() {
            if !self.marker(b"...") {
                return Err(No);
            }
            self.pos += 3;
            self.end_of_line()?;
            loop {
                self.skip_spaces();
                match self.peek() {
                    None => break,
                    Some(b'\n') => self.newline(),
                    Some(b'#') => self.skip_to_newline(),
                    Some(_) => return Err(No),
                }
            }
        }
        Ok(())
    }

    /// Whether `pos` is at `---` or `...` (`marker`) followed by a space or the end of the line.
    fn marker(&self, marker: &[u8]) -> bool {
        self.b[self.pos..].starts_with(marker) && is_space_or_end(self.at(self.pos + 3))
    }

    /// At the first key of the root's `services:` mapping (in column `indent`): when the
    /// section is large, records where its entries start, moves past it and returns an empty
    /// mapping in its place; otherwise leaves everything as it was and returns `None`.
    fn skip_section(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut entries = vec![(self.line_start, self.line)];
        let (mut at, mut line) = (self.line_start, self.line);
        let end = loop {
            // To the next line.
            match memchr(b'\n', &self.b[at..]) {
                Some(i) => at += i + 1,
                None => break self.b.len(),
            }
            line += 1;
            let spaces = self.b[at..].iter().take_while(|&&b| b == b' ').count();
            match self.at(at + spaces) {
                None => break self.b.len(),
                Some(b'\n' | b'#') => {}
                Some(_) if spaces < indent => break at,
                // A key of the section (a `-` here would continue the previous entry's value,
                // a closing bracket its flow collection).
                Some(c) if spaces == indent && !matches!(c, b'-' | b']' | b'}') => {
                    entries.push((at, line));
                }
                Some(_) => {}
            }
        };
        if end - entries[0].0 < self.split_from {
            return None;
        }
        let loc = self.loc(self.pos, 0);
        // The root goes on from the line the section ends before (at the end: nothing left).
        self.line = line;
        self.pos = end;
        self.line_start = end;
        self.section = Some(Section {
            indent,
            entries,
            end,
        });
        Some(Node {
            kind: Kind::Map(Vec::new()),
            loc,
        })
    }

    /// Skips spaces, then a comment, up to the end of the line; `No` if anything else is there.
    fn end_of_line(&mut self) -> R<()> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.newline();
                Ok(())
            }
            Some(b'#') if self.pos > 0 && self.b[self.pos - 1] == b' ' => {
                self.skip_to_newline();
                Ok(())
            }
            _ => Err(No),
        }
    }

    fn skip_to_newline(&mut self) {
        match memchr(b'\n', &self.b[self.pos..]) {
            Some(i) => {
                self.pos += i;
                self.newline();
            }
            None => self.pos = self.b.len(),
        }
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// From the start of a line: skips blank and comment lines; leaves `pos` on the first
    /// character of the next content line and returns its indentation (`None` at the end).
    fn next_content(&mut self) -> R<Option<usize>> {
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None => return Ok(None),
                Some(b'\n') => self.newline(),
                Some(b'#') => self.skip_to_newline(),
                Some(_) => {
                    let indent = self.pos - self.line_start;
                    if indent == 0 && self.marker(b"...") {
                        // The end of the document: [`Reader::document_end`] reads on.
                        return Ok(None);
                    }
                    if indent == 0 && self.b[self.pos..].starts_with(b"---") {
                        return Err(No);
                    }
                    return Ok(Some(indent));
                }
            }
        }
    }

    fn starts_seq(&self) -> bool {
        self.peek() == Some(b'-') && is_space_or_end(self.at(self.pos + 1))
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(No)
        } else {
            Ok(())
        }
    }

    /// A block mapping whose first key is at `pos`, in column `indent` (0-based).
    fn block_map(&mut self, indent: usize) -> R<Node<'a>> {
        self.enter()?;
        let loc = self.loc(self.pos, 0);
        let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
        loop {
            let key = self.key()?;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            let comment = self.peek() == Some(b'#') && self.b[self.pos - 1] == b' ';
            let inline = !comment && !matches!(self.peek(), None | Some(b'\n'));
            let value = if inline {
                self.flow_min = indent + 1;
                let v = self.inline_value()?;
                self.end_of_line()?;
                v
            } else {
                self.end_of_line()?;
                match self.next_content()? {
                    Some(n)
                        if n > indent
                            && self.depth == 1
                            && self.section.is_none()
                            && self.split_from != usize::MAX
                            && matches!(&key.kind, Kind::Scalar(k, _) if k == "services")
                            && !self.starts_seq()
                            && self.is_key_line() =>
                    {
                        match self.skip_section(n) {
                            Some(node) => node,
                            None => self.block_node(n)?,
                        }
                    }
                    Some(n) if n > indent => self.block_node(n)?,
                    Some(n) if n == indent && self.starts_seq() => self.block_seq(n, true)?,
                    // An empty value (null).
                    _ => Node {
                        kind: Kind::Scalar(Cow::Borrowed(""), true),
                        loc: Loc { len: 0, ..key.loc },
                    },
                }
            };
            entries.push((key, value));
            match self.next_content()? {
                Some(n) if n == indent && !self.starts_seq() => {}
                Some(n) if n < indent => break,
                None => break,
                Some(_) => return Err(No),
            }
        }
        check_unique(&entries)?;
        self.depth -= 1;
        Ok(Node {
            kind: Kind::Map(entries),
            loc,
        })
    }

    /// A block node starting at `pos` (the first content of a line, in column `indent`).
    fn block_node(&mut self, indent: usize) -> R<Node<'a>> {
        if self.starts_seq() {
            self.block_seq(indent, false)
        } else if self.is_key_line() {
            self.block_map(indent)
        } else {
            // A scalar alone on its own line: allowed by YAML, not used by topologies.
            Err(No)
        }
    }

    /// A block sequence whose first `-` is at `pos`, in column `indent`.
    /// An `indentless` one (at the indentation of the key it is the value of) is located, as
    /// serde-saphyr locates it, at its first item rather than at the `-`.
    fn block_seq(&mut self, indent: usize, indentless: bool) -> R<Node<'a>> {
        self.enter()?;
        let mut loc = self.loc(self.pos, 0);
        let mut items = Vec::new();
        loop {
            // At `-`.
            self.pos += 1;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            if indentless && items.is_empty() {
                loc = self.loc(self.pos, 0);
            }
            let item = match self.peek() {
                // An empty item, or a sequence in a sequence: not in topologies.
                None | Some(b'\n' | b'#' | b'-') => return Err(No),
                Some(_) if self.is_key_line() => {
                    let col = self.pos - self.line_start;
                    if !self.s[self.line_start..self.pos].is_ascii() {
                        return Err(No);
                    }
                    self.block_map(col)?
                }
                Some(_) => {
                    self.flow_min = indent + 1;
                    let v = self.inline_value()?;
                    self.end_of_line()?;
                    v
                }
            };
            items.push(item);
            match self.next_content()? {
                Some(n) if n == indent && self.starts_seq() => {}
                Some(n) if n <= indent => break,
                None => break,
                Some(_) => return Err(No),
            }
        }
        self.depth -= 1;
        Ok(Node {
            kind: Kind::Seq(items),
            loc,
        })
    }

    /// Whether the line from `pos` is `key: …` (plain or quoted key).
    fn is_key_line(&self) -> bool {
        let mut probe = Reader {
            s: self.s,
            b: self.b,
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
            column_at: self.column_at.clone(),
            depth: self.depth,
            crlf: self.crlf,
            split_from: usize::MAX,
            section: None,
            flow_min: self.flow_min,
        };
        probe.key().is_ok()
    }

    /// A block mapping key and its `:`; leaves `pos` after the colon.
    fn key(&mut self) -> R<Node<'a>> {
        let line = self.line;
        let key = match self.peek() {
            Some(b'"') => self.double_quoted()?,
            Some(b'\'') => self.single_quoted()?,
            Some(c) if starts_plain(c, self.at(self.pos + 1)) => {
                let start = self.pos;
                let line_end = memchr(b'\n', &self.b[start..]).map_or(self.b.len(), |i| start + i);
                let mut i = start;
                loop {
                    if i >= line_end {
                        return Err(No);
                    }
                    match self.b[i] {
                        b':' if is_space_or_end(self.at(i + 1)) => break,
                        b'#' if self.b[i - 1] == b' ' => return Err(No),
                        _ => i += 1,
                    }
                }
                let text = self.s[start..i].trim_end_matches(' ');
                let node = plain_node(self, start, text)?;
                self.pos = i;
                node
            }
            _ => return Err(No),
        };
        // An implicit key is on one line.
        if self.line != line {
            return Err(No);
        }
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        if self.peek() == Some(b':') && is_space_or_end(self.at(self.pos + 1)) {
            self.pos += 1;
            Ok(key)
        } else {
            Err(No)
        }
    }

    /// A value on the rest of the current line (block context).
    fn inline_value(&mut self) -> R<Node<'a>> {
        match self.peek() {
            Some(b'{' | b'[') => self.flow_node(),
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            Some(c) if starts_plain(c, self.at(self.pos + 1)) => {
                let start = self.pos;
                let line_end = memchr(b'\n', &self.b[start..]).map_or(self.b.len(), |i| start + i);
                let mut i = start;
                while i < line_end {
                    match self.b[i] {
                        b':' if is_space_or_end(self.at(i + 1)) => return Err(No),
                        b'#' if self.b[i - 1] == b' ' => break,
                        _ => i += 1,
                    }
                }
                let text = self.s[start..i].trim_end_matches(' ');
                let mut node = plain_node(self, start, text)?;
                self.pos = start + text.len();
                if i == line_end {
                    self.plain_lines_after(&mut node, start)?;
                }
                Ok(node)
            }
            _ => Err(No),
        }
    }

    /// The lines that go on with the plain scalar `node` (starting at `start`, `pos` at the end
    /// of its first line's text), folded into it with a space each, as YAML reads them and as
    /// PyYAML writes a long value: every line more indented than the block, with nothing on
    /// it that YAML could read otherwise (a `: `, a comment, an indicator in front, a tab).
    /// A blank line among them is declined.
    fn plain_lines_after(&mut self, node: &mut Node<'a>, start: usize) -> R<()> {
        let mut folded: Option<String> = None;
        let mut end = self.pos;
        let mut breaks = 0;
        loop {
            let spaces_after = self.b[end..].iter().take_while(|&&b| b == b' ').count();
            if self.at(end + spaces_after) != Some(b'\n') {
                break;
            }
            let next = end + spaces_after + 1;
            let indent = self.b[next..].iter().take_while(|&&b| b == b' ').count();
            let from = next + indent;
            let line_end = memchr(b'\n', &self.b[from..]).map_or(self.b.len(), |i| from + i);
            match self.at(from) {
                None | Some(b'\n' | b'#') => break,
                _ if indent < self.flow_min => break,
                Some(c) if !starts_plain(c, self.at(from + 1)) || c == b'-' => return Err(No),
                _ => {}
            }
            let line = self.s[from..line_end].trim_end_matches(' ');
            let b = line.as_bytes();
            if line.contains(": ")
                || line.contains(" #")
                || line.contains('\t')
                || b.ends_with(b":")
            {
                return Err(No);
            }
            let f = folded.get_or_insert_with(|| match &node.kind {
                Kind::Scalar(t, _) => t.to_string(),
                _ => String::new(),
            });
            f.push(' ');
            f.push_str(line);
            end = from + line.len();
            breaks += 1;
            self.line += 1;
            self.line_start = next;
        }
        if let Some(f) = folded {
            node.kind = Kind::Scalar(Cow::Owned(f), true);
            node.loc.len =
                u32::try_from(end - start + if self.crlf { breaks } else { 0 }).unwrap_or(u32::MAX);
            self.pos = end;
        }
        Ok(())
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Blank space inside a flow collection: spaces, line breaks and comments. A line that goes
    /// on with the collection must be indented by [`Reader::flow_min`] at least (one less for a
    /// closing bracket; serde-saphyr is more lenient, and declining costs only time).
    fn flow_space(&mut self) -> R<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(b'#') if matches!(self.b[self.pos - 1], b' ' | b'\n') => {
                    self.skip_to_newline();
                }
                Some(b'\n') => self.newline(),
                _ => return Ok(()),
            }
            let spaces = self.b[self.pos..]
                .iter()
                .take_while(|&&b| b == b' ')
                .count();
            match self.at(self.pos + spaces) {
                None | Some(b'\n') => {}
                // A closing bracket may line up with the key the collection is the value of.
                Some(b']' | b'}') if spaces + 1 >= self.flow_min => {}
                _ if spaces < self.flow_min => return Err(No),
                _ if spaces == 0
                    && (self.b[self.pos..].starts_with(b"---")
                        || self.b[self.pos..].starts_with(b"...")) =>
                {
                    return Err(No);
                }
                _ => {}
            }
        }
    }

    /// A flow collection or scalar inside a flow collection.
    fn flow_node(&mut self) -> R<Node<'a>> {
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                let loc = self.loc(self.pos, 1);
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    self.flow_space()?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        break;
                    }
                    let line = self.line;
                    let key = self.flow_scalar()?;
                    // An implicit key and its colon are on one line.
                    if self.line != line {
                        return Err(No);
                    }
                    self.skip_spaces();
                    if self.peek() != Some(b':') {
                        return Err(No);
                    }
                    self.pos += 1;
                    // Only a quoted (JSON-like) key may have its value right after the colon.
                    if matches!(key.kind, Kind::Scalar(_, true)) && !is_space_or_end(self.peek()) {
                        return Err(No);
                    }
                    self.flow_space()?;
                    if matches!(self.peek(), Some(b',' | b'}')) {
                        return Err(No);
                    }
                    let value = self.flow_node()?;
                    entries.push((key, value));
                    self.flow_space()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(No),
                    }
                }
                check_unique(&entries)?;
                self.depth -= 1;
                Ok(Node {
                    kind: Kind::Map(entries),
                    loc,
                })
            }
            Some(b'[') => {
                self.enter()?;
                let loc = self.loc(self.pos, 1);
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.flow_space()?;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.flow_node()?);
                    self.flow_space()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(No),
                    }
                }
                self.depth -= 1;
                Ok(Node {
                    kind: Kind::Seq(items),
                    loc,
                })
            }
            _ => self.flow_scalar(),
        }
    }

    /// A scalar inside a flow collection.
    fn flow_scalar(&mut self) -> R<Node<'a>> {
        match self.peek() {
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            // `-`, `?` or `:` before a flow indicator does not start a plain scalar there.
            Some(b'-' | b'?' | b':')
                if matches!(
                    self.at(self.pos + 1),
                    Some(b',' | b'[' | b']' | b'{' | b'}')
                ) =>
            {
                Err(No)
            }
            Some(c) if starts_plain(c, self.at(self.pos + 1)) => {
                let start = self.pos;
                let mut i = start;
                while let Some(c) = self.at(i) {
                    match c {
                        b',' | b'[' | b']' | b'{' | b'}' | b'\n' => break,
                        b':' if matches!(
                            self.at(i + 1),
                            None | Some(b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
                        ) =>
                        {
                            break;
                        }
                        b'#' if self.b[i - 1] == b' ' => break,
                        _ => i += 1,
                    }
                }
                if matches!(self.at(i), None | Some(b'[' | b'{')) {
                    return Err(No);
                }
                let text = self.s[start..i].trim_end_matches(' ');
                let node = plain_node(self, start, text)?;
                self.pos = start + text.len();
                if matches!(self.at(i), Some(b'\n' | b'#')) {
                    // The line ends the scalar only if what comes next ends the value: else
                    // the scalar goes on on the next line.
                    self.flow_space()?;
                    if !matches!(self.peek(), Some(b',' | b']' | b'}')) {
                        return Err(No);
                    }
                }
                Ok(node)
            }
            _ => Err(No),
        }
    }

    fn double_quoted(&mut self) -> R<Node<'a>> {
        let start = self.pos;
        let loc = self.loc(start, 0);
        let mut breaks = 0;
        let mut i = start + 1;
        let mut text = String::new();
        let mut run = i;
        loop {
            match self.at(i) {
                None => return Err(No),
                Some(b'\n') => {
                    i = self.fold(&mut text, run, i, &mut breaks)?;
                    run = i;
                }
                Some(b'"') => break,
                Some(b'\\') if self.at(i + 1) == Some(b'\n') => {
                    // An escaped line break: nothing, not even the next line's indentation.
                    text.push_str(&self.s[run..i]);
                    i = self.quoted_line_break(i + 1, &mut breaks)?;
                    run = i;
                }
                Some(b'\\') => {
                    text.push_str(&self.s[run..i]);
                    let c = match self.at(i + 1) {
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'/') => '/',
                        Some(b'n') => '\n',
                        Some(b't' | b'\t') => '\t',
                        Some(b'r') => '\r',
                        Some(b' ') => ' ',
                        Some(b'0') => '\0',
                        Some(b'a') => '\x07',
                        Some(b'b') => '\x08',
                        Some(b'e') => '\x1b',
                        Some(b'f') => '\x0c',
                        Some(b'v') => '\x0b',
                        Some(b'N') => '\u{85}',
                        Some(b'_') => '\u{a0}',
                        Some(b'L') => '\u{2028}',
                        Some(b'P') => '\u{2029}',
                        Some(b'x') => {
                            // `\xF6`, as PyYAML escapes what is not ASCII.
                            let c = self
                                .s
                                .get(i + 2..i + 4)
                                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or(No)?;
                            text.push(c);
                            i += 4;
                            run = i;
                            continue;
                        }
                        Some(b'u') => {
                            // `\u00e9`, and a pair of them for a character beyond 16 bits
                            // (as JSON writers escape what is not ASCII).
                            let (c, len) = self.unicode_escape(i).ok_or(No)?;
                            text.push(c);
                            i += len;
                            run = i;
                            continue;
                        }
                        _ => return Err(No),
                    };
                    text.push(c);
                    i += 2;
                    run = i;
                }
                Some(_) => i += 1,
            }
        }
        Ok(self.quoted_node(start, loc, text, run, i, breaks))
    }

    /// The line feed `i` inside a quoted scalar, after its text from `run`: folded, the line's
    /// trailing blanks dropped and the break made one space. Returns where the next line's
    /// text starts.
    fn fold(&mut self, text: &mut String, run: usize, i: usize, breaks: &mut u32) -> R<usize> {
        text.push_str(self.s[run..i].trim_end_matches([' ', '\t']));
        text.push(' ');
        self.quoted_line_break(i, breaks)
    }

    /// The quoted scalar from `start` (located at `loc`) whose closing quote is at `i`: `text`
    /// so far, and the rest from `run` (all of it borrowed when nothing was unescaped).
    fn quoted_node(
        &mut self,
        start: usize,
        mut loc: Loc,
        mut text: String,
        run: usize,
        i: usize,
        breaks: u32,
    ) -> Node<'a> {
        let text = if run == start + 1 {
            Cow::Borrowed(&self.s[run..i])
        } else {
            text.push_str(&self.s[run..i]);
            Cow::Owned(text)
        };
        self.pos = i + 1;
        loc.len = self.quoted_len(start, breaks);
        Node {
            kind: Kind::Scalar(text, false),
            loc,
        }
    }

    /// At the line feed `i` inside a quoted scalar: moves to the next line and returns where
    /// its text starts, past its indentation. Declined: a blank line (it would be a line feed
    /// of the text), a line indented no more than the block, a document marker, a tab.
    fn quoted_line_break(&mut self, i: usize, breaks: &mut u32) -> R<usize> {
        let next = i + 1;
        let spaces = self.b[next..].iter().take_while(|&&b| b == b' ').count();
        match self.at(next + spaces) {
            None | Some(b'\n' | b'\t') => return Err(No),
            _ if spaces < self.flow_min => return Err(No),
            _ if spaces == 0
                && (self.b[next..].starts_with(b"---") || self.b[next..].starts_with(b"...")) =>
            {
                return Err(No);
            }
            _ => {}
        }
        *breaks += 1;
        self.line += 1;
        self.line_start = next;
        Ok(next + spaces)
    }

    /// The length in the file of a quoted scalar from `start` to `pos`, over `breaks` line
    /// breaks (each one byte more in a file with `\r\n` line ends).
    fn quoted_len(&self, start: usize, breaks: u32) -> u32 {
        let crlf = if self.crlf { breaks as usize } else { 0 };
        u32::try_from(self.pos - start + crlf).unwrap_or(u32::MAX)
    }

    /// The character of the `\uXXXX` escape at `i` (or of a surrogate pair of them), and the
    /// length of the escape.
    fn unicode_escape(&self, i: usize) -> Option<(char, usize)> {
        let hex = |at: usize| {
            let digits = self.s.get(at..at + 4)?;
            digits
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u32::from_str_radix(digits, 16).ok())?
        };
        let high = hex(i + 2)?;
        if !(0xD800..0xDC00).contains(&high) {
            return Some((char::from_u32(high)?, 6));
        }
        if self.s.get(i + 6..i + 8) != Some("\\u") {
            return None;
        }
        let low = hex(i + 8)?;
        if !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        Some((char::from_u32(c)?, 12))
    }

    fn single_quoted(&mut self) -> R<Node<'a>> {
        let start = self.pos;
        let loc = self.loc(start, 0);
        let mut breaks = 0;
        let mut i = start + 1;
        let mut text = String::new();
        let mut run = i;
        loop {
            match self.at(i) {
                None => return Err(No),
                Some(b'\n') => {
                    i = self.fold(&mut text, run, i, &mut breaks)?;
                    run = i;
                }
                Some(b'\'') if self.at(i + 1) == Some(b'\'') => {
                    text.push_str(&self.s[run..=i]);
                    i += 2;
                    run = i;
                }
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        Ok(self.quoted_node(start, loc, text, run, i, breaks))
    }
}

/// A plain scalar may start with any character but an indicator (`-`, `?` and `:` only when
/// followed by a space).
fn starts_plain(c: u8, next: Option<u8>) -> bool {
    match c {
        b'-' | b'?' | b':' => !is_space_or_end(next),
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b' ' | b'\t' | b'\n' => false,
        _ => true,
    }
}

fn plain_node<'a>(r: &Reader<'a>, start: usize, text: &'a str) -> R<Node<'a>> {
    // A tab in a plain scalar may be a separator YAML reads differently (`key:\tvalue`).
    if text.is_empty() || text.contains('\t') {
        return Err(No);
    }
    Ok(Node {
        kind: Kind::Scalar(Cow::Borrowed(text), true),
        loc: r.loc(start, text.len()),
    })
}

/// A duplicate key (compared as text) makes the file someone else's job.
fn check_unique(entries: &[(Node<'_>, Node<'_>)]) -> R<()> {
    fn text<'n>(n: &'n Node<'_>) -> R<&'n str> {
        match &n.kind {
            Kind::Scalar(t, _) => Ok(t),
            _ => Err(No),
        }
    }
    if entries.len() <= 16 {
        for (i, (k, _)) in entries.iter().enumerate() {
            let k = text(k)?;
            for (o, _) in &entries[..i] {
                if text(o)? == k {
                    return Err(No);
                }
            }
        }
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(entries.len());
    for (k, _) in entries {
        if !seen.insert(text(k)?) {
            return Err(No);
        }
    }
    Ok(())
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Plain text that YAML's core schema (or YAML 1.1 habits) could read as something other than
/// a string; the fast path leaves such scalars to the full parser.
fn ambiguous(text: &str) -> bool {
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        return true;
    }
    matches!(
        text.to_ascii_lowercase().as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off"
    )
}

/// A duration as the file writes it (`300ms`, `1.5s`, `2m`): digits, at most one dot, then
/// letters. No YAML number has that form (hexadecimal `0x1f` and octal `0o17` are excluded).
fn duration_like(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = b
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    digits > 0
        && b[0].is_ascii_digit()
        && b[..digits].iter().position(|c| *c == b'.')
            == b[..digits].iter().rposition(|c| *c == b'.')
        && digits < b.len()
        && b[digits..].iter().all(u8::is_ascii_lowercase)
        && !matches!(b.get(1), Some(b'x' | b'o'))
}

fn is_nullish(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Deserialization failed: decline.
#[derive(Debug)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the fast path")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Declined
    }
}

/// Deserializes a node by value: each subtree is freed as soon as it has been read, so the tree
/// and the raw types it becomes are not both whole in memory at the peak.
struct NodeDe<'a>(Node<'a>);

/// A scalar's text to `visitor`, moving an owned (unescaped) string instead of copying it.
fn visit_text<'de, V: Visitor<'de>>(t: Cow<'_, str>, visitor: V) -> Result<V::Value, Declined> {
    match t {
        Cow::Borrowed(t) => visitor.visit_str(t),
        Cow::Owned(t) => visitor.visit_string(t),
    }
}

/// A plain scalar of digits as an integer (no leading zero, at most 18 digits).
fn visit_int<'de, V: Visitor<'de>>(t: &str, visitor: V) -> Result<V::Value, Declined> {
    if t.bytes().all(|b| b.is_ascii_digit())
        && (t.len() == 1 || !t.starts_with('0'))
        && t.len() <= 18
    {
        visitor.visit_u64(t.parse().map_err(|_| Declined)?)
    } else {
        Err(Declined)
    }
}

impl NodeDe<'_> {
    fn int<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Scalar(t, true) => visit_int(&t, visitor),
            _ => Err(Declined),
        }
    }
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Map(entries) => visitor.visit_map(MapOf {
                it: entries.into_iter(),
                value: None,
            }),
            Kind::Seq(items) => visitor.visit_seq(Items {
                it: items.into_iter(),
            }),
            Kind::Scalar(t, false) => visit_text(t, visitor),
            Kind::Scalar(t, true) => {
                if t.bytes().all(|b| b.is_ascii_digit()) {
                    visit_int(&t, visitor)
                } else if duration_like(&t) {
                    // `300ms`, `1.5s`: a string in every YAML schema (no number ends in a
                    // unit), read where a value may be a duration or a mapping (`slow:`).
                    visit_text(t, visitor)
                } else if ambiguous(&t) {
                    Err(Declined)
                } else {
                    visit_text(t, visitor)
                }
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Scalar(t, plain) if !(plain && is_nullish(&t)) => visit_text(t, visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Scalar(t, true) if t == "true" => visitor.visit_bool(true),
            Kind::Scalar(t, true) if t == "false" => visitor.visit_bool(false),
            _ => Err(Declined),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.int(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match &self.0.kind {
            Kind::Scalar(t, true) if is_nullish(t) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Seq(items) => visitor.visit_seq(Items {
                it: items.into_iter(),
            }),
            _ => Err(Declined),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Map(entries) => visitor.visit_map(MapOf {
                it: entries.into_iter(),
                value: None,
            }),
            _ => Err(Declined),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        match self.0.kind {
            Kind::Scalar(t, plain) if !(plain && ambiguous(&t)) => {
                visitor.visit_enum(t.as_ref().into_deserializer())
            }
            _ => Err(Declined),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Declined> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        visitor.visit_unit()
    }

    fn deserialize_i128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, Declined> {
        Err(Declined)
    }
}

struct MapOf<'a> {
    it: std::vec::IntoIter<(Node<'a>, Node<'a>)>,
    value: Option<Node<'a>>,
}

impl<'de> MapAccess<'de> for MapOf<'_> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Declined> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                loc::publish(k.loc);
                seed.deserialize(NodeDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Declined> {
        let v = self.value.take().ok_or(Declined)?;
        loc::publish(v.loc);
        seed.deserialize(NodeDe(v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

struct Items<'a> {
    it: std::vec::IntoIter<Node<'a>>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Declined> {
        match self.it.next() {
            Some(n) => {
                loc::publish(n.loc);
                seed.deserialize(NodeDe(n)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::load::options;

    /// The fast path accepts `src` and gives exactly what serde-saphyr gives, locations included.
    fn assert_same(src: &str) {
        let slow: RawTopology = serde_saphyr::from_str_with_options(src, options(src.len()))
            .expect("serde-saphyr accepts it");
        let fast = parse(src).expect("the fast path accepts it");
        let (slow, fast) = (format!("{slow:#?}"), format!("{fast:#?}"));
        // With Windows line ends, the same values at the same places as serde-saphyr reads.
        let crlf = src.replace('\n', "\r\n");
        let slow_crlf: RawTopology =
            serde_saphyr::from_str_with_options(&crlf, options(crlf.len()))
                .expect("serde-saphyr accepts it with CRLF");
        assert_eq!(
            format!("{:#?}", parse(&crlf).expect("the fast path accepts CRLF")),
            format!("{slow_crlf:#?}"),
            "CRLF"
        );
        // Read in pieces (of one entry each, and of a few), the services are the same too.
        for piece in [1, 200] {
            let pieces = parse_with(src, 0, piece).expect("accepted in pieces");
            assert!(
                format!("{pieces:#?}") == fast,
                "pieces of {piece} bytes differ"
            );
        }
        if slow != fast {
            let first = slow
                .lines()
                .zip(fast.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let from = first.saturating_sub(8);
            panic!(
                "differs at line {first}:\n--- serde-saphyr\n{}\n--- fast\n{}",
                slow.lines()
                    .skip(from)
                    .take(12)
                    .collect::<Vec<_>>()
                    .join("\n"),
                fast.lines()
                    .skip(from)
                    .take(12)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }

    /// Every raw type, in the ways topologies are written.
    const RICH: &str = r#"# comment
version: 1   # trailing comment
name: "rich \"one\""
defaults: { timeout: 2s, retries: 1, slow: 300ms, concurrency: 512, per_host: 32, deadline: 5m }
links:
  checkout:
    entry: café
    description: Ünïcode — before a value
  'quoted link': {entry: b, description: 'it''s'}
services:
  café:
    description: Größe and 漢字 in text
    owner:
    tags:
    - a
    - "b c"
    core: false
    probe:
        http:
            url: http://{address}/h   # comment
            method: POST
            headers: { Content-Type: application/json, "X-A": 'b' }
            body: '{"ping":1}'
            expect: { status: [200, 204], body_contains: ok, json: { "$.data": "ok", "$.n": "1" } }
            max_redirects: 0
            tls_verify: true
        timeout: 1.5s
    instances:
      - name: i0
        address: "127.0.0.1:1"
        zone: az1
        labels: { rack: r1, power: feed-a }
      - { address: "127.0.0.1:2", zone: az2, host: h2 }
      -   address: 127.0.0.1:3
          host: h3
    min_healthy: 2
    depends_on:
      b: strong
      c: { strength: weak, timeout: 200ms, fallback: cached }
      group-1: { strength: strong, any_of: [d, e], min: 1 }
  b:
    probe: { tcp: { address: "{address}", send: "PING\n", expect: PONG } }
    replicas: 3
    depends_on: { c: weak }
  c:
    probe:
      dns: { name: c.test, type: AAAA, expect: ["::1"], server: "127.0.0.1:53" }
  d:
    probe: {exec: {command: [check_d, -w, "5"]}}
  e:
    probe:
      exec:
        command: check_e --fast
      retries: 2
  f:
    probe: { postgres: { dsn: "postgres://u:${PW}@{address}/db" }, slow: 1s }
  g: { probe: { redis: { url: "redis://{address}" } } }
  h:
    probe:
      prometheus: { url: "http://127.0.0.1:9090", query: "up{job=\"h\"}", expect: "> 0.5" }
  i:
    probe: { tls: { address: "127.0.0.1:443", server_name: i.test, min_days: 7, verify: false } }
  j: {}
risks:
  deep-strong-chain: { max_depth: 6, severity: warning }
  shared-hotspot:
    min_links: 2
"#;

    #[test]
    fn durations_are_read_where_a_value_may_also_be_a_mapping() {
        for t in ["300ms", "1s", "1.5s", "2m", "10us"] {
            assert!(duration_like(t), "{t}");
        }
        for t in [
            "0x1f", "0o17", "1e5", "1.2.3s", "12", "1S", "s", "-1s", ".5s",
        ] {
            assert!(!duration_like(t), "{t}");
        }
        // A probe's `slow:` is a duration or a mapping of phases: both stay on the fast path.
        assert_same(
            "version: 1\nname: t\nservices:\n  a:\n    probe: { tcp: {}, slow: 1s }\n  b:\n    probe: { http: { url: \"http://x/\" }, slow: { first_byte: 150ms } }\n",
        );
    }

    #[test]
    fn every_raw_type_reads_the_same() {
        assert_same(RICH);
    }

    /// Values YAML may read otherwise, or that the fast reader does not take: wherever they
    /// are put, the fast path either declines or agrees with serde-saphyr (and never accepts
    /// what serde-saphyr refuses).
    #[test]
    fn tricky_values_are_declined_or_read_the_same() {
        let tricky = [
            "yes",
            "No",
            "on",
            "off",
            "~",
            "null",
            "NULL",
            "",
            "0x1f",
            "0o17",
            "012",
            "1_000",
            "+1",
            "-1",
            "1.5",
            ".inf",
            "1e3",
            "true",
            "True",
            "false",
            "\"\\u0041\"",
            "\"a\\\"b\"",
            "'a''b'",
            "&x a",
            "*x",
            "!!str 1",
            "|",
            ">",
            "@a",
            "`a`",
            "a: b",
            "a #b",
            "\"unterminated",
            "[a, b",
            "{a: b",
            "{a}",
            "[a,]",
            "{a: }",
            "a\n  b",
            "4294967296",
            "99999999999999999999",
            "x y",
            "%a",
            "- a",
            "? a",
            "-a",
            "a:b",
            "\"a\" b",
            "[[a]]",
            "{a: {b: c}}",
            "  ",
            "\t",
            "a\t",
            "\"a\tb\"",
            "\"\\ud83d\\ude80\"",
            "\"\\ud83d\"",
            "\"\\u00\"",
            // Flow collections over several lines, indented enough or not.
            "[a,\n      b]",
            "[a,\nb]",
            "[a\n      , b]",
            "[a, # c\n      b]",
            "[\n      a,\n    ]",
            "{a: b,\n      c: d}",
            "{a: b,\n  c: d}",
            "{a:\n      b}",
            "{\"a\"\n      : b}",
            "[a,\n---\n      b]",
            "[a,\n...\n      b]",
            "[a,\n\n      b]",
            "[a,\n      b\n      c]",
            // Scalars over several lines.
            "a\n      b",
            "a\n  b",
            "a\n      b\n      c",
            "a\n\n      b",
            "a\n      b: c",
            "a\n      - b",
            "a\n      # c",
            "a # c\n      b",
            "'a\n      b'",
            "'a\n\n      b'",
            "\"a\\\n      b\"",
            "\"a \\\n      \\ b\"",
            "\"a\n  b\"",
            "\"\\x41\\U0001F680\\ \"",
        ];
        let keys = [
            "version", "name", "owner", "replicas", "core", "tags", "zone", "url", "status",
            "type", "command", "spof", "entry", "b",
        ];
        let template = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n  a:\n    owner: o\n    replicas: 2\n    core: false\n    tags: [t]\n    instances: [{zone: z}]\n    probe: {http: {url: u, expect: {status: 200}}, dns: {name: n, type: A}, exec: {command: c}}\n    depends_on: {b: strong}\n  b: {}\nrisks:\n  spof: {severity: info}\n";
        let (mut accepted, mut declined) = (0, 0);
        for key in keys {
            for value in tricky {
                // The value of `key`, or `key` itself when it is a service name.
                for (from, to, whole_value) in [
                    (format!("{key}: "), format!("{key}: {value}"), true),
                    (format!("\n  {key}:"), format!("\n  {value}:"), false),
                ] {
                    let Some(at) = template.find(&from) else {
                        continue;
                    };
                    let rest = at + from.len();
                    let end = if whole_value {
                        template[rest..]
                            .find([',', '}', '\n'])
                            .map_or(template.len(), |e| rest + e)
                    } else {
                        rest
                    };
                    let src = format!("{}{}{}", &template[..at], to, &template[end..]);
                    if src == template {
                        continue;
                    }
                    if parse(&src).is_some() {
                        assert_same(&src);
                        accepted += 1;
                    } else {
                        declined += 1;
                    }
                }
            }
        }
        // Both sides are exercised: plain values are taken, odd ones left to serde-saphyr.
        assert!(
            accepted > 100 && declined > 100,
            "{accepted} accepted, {declined} declined"
        );
    }

    #[test]
    fn unusual_files_are_declined() {
        let base = "version: 1\nname: t\nservices:\n  a: {}\n  b: {}\n";
        assert!(parse(base).is_some());
        for src in [
            base.replace("  b: {}", "  a: {}"),             // duplicate key
            base.replace("name: t", "name: t\nname: u"),    // duplicate key
            base.replace("  b: {}", "  b: {ownr: x}"),      // unknown key
            base.replace("  b: {}", "  b: &x {}\n  c: *x"), // anchors
            base.replace("  b: {}", "  b:\n    owner: |\n      x"), // block scalar
            base.replace("name: t", "name: t\n\n  u"),      // multi-line with a blank line
            base.replace("  b: {}", "\tb: {}"),             // tab as indentation
            base.replace("name: t", "name:\tt"),            // tab as a separator
            base.replace("name: t", "name: t\tu"),          // tab in a plain scalar
            base.replace("name: t", "name: t\t# c"),        // tab before a comment
            base.replace("name: t", "name: \rt"),           // a lone carriage return
            format!("{base}---\nname: u\n"),                // a second document
            format!("{base}...\nname: u\n"),                // something after the end
            format!("--- {{}}\n{base}"),                    // a value after `---`
            format!("%YAML 1.2\n---\n{base}"),              // a directive
            format!("\u{feff}{base}"),                      // BOM
            base.replace("  b: {}", "  b: {owner: [x,\n  y]}"), // flow line not indented
            base.replace("  b: {}", "  b: {owner: x\n    y}"), // multi-line plain in flow
            base.replace("  b: {}", "  b: {\"owner\"\n    : x}"), // key and colon apart
            base.replace("  b: {}", "  b: {owner: \"\\ud800\"}"), // lone surrogate
            "{\"version\": 1, \"name\": \"t\"}\n---\n{}\n".to_owned(), // JSON, then more
            "[a]\n".to_owned(),
            format!(
                "{}{}",
                "  ".repeat(0),
                base.replace("{}", &format!("{}{}", "{a: ".repeat(100), "}".repeat(100)))
            ),
        ] {
            assert!(parse(&src).is_none(), "accepted:\n{src}");
            assert!(
                parse_with(&src, 0, 1).is_none(),
                "accepted in pieces:\n{src}"
            );
        }
    }

    /// Where the services section ends and what lies between its entries, read in pieces of
    /// every size, give what one pass gives; a name in two pieces is declined like a duplicate.
    #[test]
    fn the_services_section_in_pieces_reads_the_same_as_whole() {
        let head = "version: 1\nname: t\nlinks:\n  l: {entry: a}\n";
        let body = "services:\n  a:\n    tags:\n    - x\n    - y\n\n  # a comment between entries\n  b: {owner: o}\n  c:\n  d: ~\n  e:\n    depends_on:\n      a: strong\n";
        for src in [
            format!("{head}{body}"),
            format!("{head}{body}risks:\n  deep-strong-chain: {{ max_depth: 6 }}\n"),
            format!("{head}{body}# trailing comment\n"),
            format!("{head}{}", body.trim_end_matches('\n')),
            format!("{body}{head}"),
        ] {
            let whole = format!("{:#?}", parse_with(&src, usize::MAX, 0).expect("accepted"));
            for piece in [1, 10, 30, 60, 1000] {
                let pieces = parse_with(&src, 0, piece).expect("accepted in pieces");
                assert_eq!(
                    format!("{pieces:#?}"),
                    whole,
                    "pieces of {piece} bytes:\n{src}"
                );
            }
        }
        let twice = format!("{head}{body}  a: {{}}\n");
        assert!(parse_with(&twice, usize::MAX, 0).is_none());
        for piece in [1, 30, 1000] {
            assert!(parse_with(&twice, 0, piece).is_none(), "pieces of {piece}");
        }
        // A line less indented than the entries ends the section, and the file is declined
        // as in one pass.
        let odd = format!("{head}services:\n  a: {{}}\n b: {{}}\n");
        assert!(parse_with(&odd, usize::MAX, 0).is_none());
        assert!(parse_with(&odd, 0, 1).is_none());
    }

    /// Generated files like `scripts/gen_topology.py` writes, many services.
    #[test]
    fn generated_topology_reads_the_same() {
        use std::fmt::Write;
        let mut s = String::from(
            "# generated\nversion: 1\nname: gen\ndefaults: { timeout: 2s, retries: 1 }\nlinks:\n",
        );
        for l in 0..5 {
            writeln!(
                s,
                "  link-{l:03}:\n    entry: s{l:05}\n    description: link {l}"
            )
            .unwrap();
        }
        s.push_str("services:\n");
        for i in 0..3000 {
            writeln!(s, "  s{i:05}:\n    owner: team-{:02}", i % 40).unwrap();
            match i % 3 {
                0 => writeln!(s, "    instances:\n      - {{ address: \"127.0.0.1:{}\", zone: az{}, host: host-{:05} }}", 20000 + i, i % 3 + 1, i % 97).unwrap(),
                1 => writeln!(s, "    replicas: {}", i % 4 + 1).unwrap(),
                _ => {}
            }
            writeln!(
                s,
                "    probe: {{ http: {{ url: \"http://{{address}}/health\" }} }}"
            )
            .unwrap();
            if i + 2 < 3000 {
                writeln!(s, "    depends_on:\n      s{:05}: strong\n      s{:05}: {{ strength: weak, timeout: 500ms }}\n      group-2: {{ strength: strong, any_of: [s{:05}, s{:05}], min: 1 }}", i + 1, i + 2, i + 1, i + 2).unwrap();
            }
        }
        assert_same(&s);
    }

    #[test]
    fn long_lines_with_unicode_read_the_same() {
        use std::fmt::Write;
        let mut s = String::from("version: 1\nname: long\nlinks: {l: {entry: é0}}\nservices: {");
        for i in 0..2000 {
            write!(
                s,
                "é{i}: {{owner: \"ü{i}\", depends_on: {{é{}: strong}}}}, ",
                i + 1
            )
            .unwrap();
        }
        s.push_str("é2000: {}}\n");
        assert_same(&s);
    }

    #[test]
    fn services_with_no_body_read_the_same() {
        let src = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n  a:\n    depends_on: {b: strong, c: weak, d: strong}\n  b:\n  c: ~\n  d:\n";
        assert_same(src);
        assert_eq!(parse(src).unwrap().services.len(), 4);
    }

    /// What exporters write besides our own style: document markers, tabs in comments and
    /// quoted text, flow collections over several lines, JSON with escapes.
    #[test]
    fn exported_styles_read_the_same() {
        let yaml = "# exported by\tsome tool\n--- # the only document\nversion: 1\nname: \"tab\\tand\ttab\"\nlinks:\n  l: {entry: a}\t\t# tabs before? no: only in the comment\nservices:\n  a:\n    depends_on: { b: strong,\n      c: weak,   # a comment inside\n\n      d: strong }\n    tags: [\n      x,\n      y\n    ]\n  b:\n    owner:\n      team\n  c: { owner: 'it''s',\n       description: \"d\" }\n  d: {}\n...\n# after the end\n";
        // Not the tab before a comment: that one is declined (a separator, not comment text).
        let yaml = yaml.replace(
            "}\t\t# tabs before? no: only in the comment",
            "} # \ttabs in a comment",
        );
        // The `owner:` value on its own line is a scalar alone on a line: declined.
        let declined = yaml.clone();
        assert!(parse(&declined).is_none());
        let yaml = yaml.replace("    owner:\n      team\n", "    owner: team\n");
        assert_same(&yaml);
        // PyYAML's long values: folded over lines, plain, single- and double-quoted (with its
        // `\xF6` escapes and escaped line breaks), and YAML's other escapes.
        assert_same(concat!(
            "version: 1\nname: t\nservices:\n  a:\n",
            "    description: Receives order callbacks from the delivery platform and does many\n",
            "      other things too,   \n      for a long while\n",
            "    owner: 'x: y'\n  b:\n",
            "    description: 'has: colon and a very long text that goes on and on and on and on\n",
            "      and on and it''s the end'\n  c:\n",
            "    description: \"Gr\\xF6\\xDFe of the order callbacks from the delivery platform and\\\n",
            "      \\ does many other things too,  \n       for a long while\"\n",
            "    owner: \"\\0\\a\\b\\e\\f\\v\\N\\_\\L\\P\\x41\\ \\t\\\t.\"\n",
            "    tags:\n    - a long tag\n      on two lines\n    - 'and a\n      quoted one'\n",
        ));
        // PyYAML's style: a sequence at the indentation of its key, located at its first item.
        assert_same(
            "version: 1\nname: t\nservices:\n  a:\n    instances:\n    - address: 127.0.0.1:1\n      zone: az1\n    - {address: 127.0.0.1:2}\n    tags:\n    - x\n",
        );

        let json = r#"{
  "version": 1,
  "name": "caf\u00e9 \ud83d\ude80 \"q\" \\ \/",
  "defaults": {"timeout": "2s", "retries": 1},
  "links": {"l": {"entry": "a", "description": "line\nbreak"}},
  "services": {
    "a": {
      "replicas": 2,
      "core": false,
      "depends_on": {"b": "strong", "g": {"strength": "strong", "any_of": ["b", "c"], "min": 1}}
    },
    "b": null,
    "c": {"tags": [], "instances": [{"address": "127.0.0.1:1", "zone": "az1"}]}
  }
}
"#;
        assert_same(json);
        // The same on one line, without spaces.
        let compact: String = json
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("")
            .replace("\": ", "\":")
            .replace(", ", ",");
        assert_same(&format!("{compact}\n"));
    }

    /// The bundled topology and the rich one, re-written as JSON (pretty and on one line), read
    /// as serde-saphyr reads them.
    #[test]
    fn topologies_written_as_json_read_the_same() {
        for src in [include_str!("../../topology.yaml"), RICH] {
            let value: serde_json::Value =
                serde_saphyr::from_str(src).expect("serde-saphyr reads it");
            assert_same(&serde_json::to_string_pretty(&value).unwrap());
            assert_same(&serde_json::to_string(&value).unwrap());
        }
    }

    /// Whatever the fast path accepts of a broken file, serde-saphyr accepts too and reads the
    /// same: the bundled and the rich topology, in YAML and as JSON, with a few bytes inserted
    /// (punctuation, line breaks, indentation, tabs, document markers) or deleted.
    #[test]
    fn broken_files_the_fast_path_accepts_read_the_same() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let mut bases: Vec<String> = Vec::new();
        for src in [include_str!("../../topology.yaml"), RICH] {
            let value: serde_json::Value = serde_saphyr::from_str(src).unwrap();
            bases.push(src.to_owned());
            bases.push(serde_json::to_string_pretty(&value).unwrap());
        }
        let tokens = prop::sample::select(vec![
            " ", "  ", "\n", "\n  ", "\n      ", "\t", "#", " # c", ",", "[", "]", "{", "}", ":",
            ": ", "- ", "\"", "'", "---\n", "...\n", "\\u00e9", "\\ud83d", "~",
        ]);
        let edit = (
            any::<prop::sample::Index>(),
            prop::option::of(tokens),
            1..4usize,
        );
        let cases = (0..bases.len(), prop::collection::vec(edit, 1..4));
        let (accepted, tried) = (Cell::new(0), Cell::new(0));
        TestRunner::new(Config {
            // A longer run: LINKPATROL_FUZZ_CASES=100000 (as for tests/it/fuzz_loader.rs).
            cases: std::env::var("LINKPATROL_FUZZ_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(600),
            failure_persistence: None,
            ..Config::default()
        })
        .run(&cases, |(base, edits)| {
            let mut src = bases[base].clone();
            for (at, token, deleted) in edits {
                let mut i = at.index(src.len() + 1);
                while !src.is_char_boundary(i) {
                    i -= 1;
                }
                if let Some(t) = token {
                    src.insert_str(i, t);
                } else {
                    let mut end = (i + deleted).min(src.len());
                    while !src.is_char_boundary(end) {
                        end += 1;
                    }
                    src.replace_range(i..end, "");
                }
            }
            tried.set(tried.get() + 1);
            if parse(&src).is_some() {
                accepted.set(accepted.get() + 1);
                if let Err(e) = std::panic::catch_unwind(|| assert_same(&src)) {
                    eprintln!("the file:\n{src}");
                    std::panic::resume_unwind(e);
                }
            }
            Ok(())
        })
        .unwrap();
        // Both ways are taken: some edits keep the file in the subset, others leave it.
        let (accepted, tried) = (accepted.get(), tried.get());
        assert!(
            accepted > tried / 10 && accepted < tried,
            "{accepted} of {tried} accepted"
        );
    }

    #[test]
    fn bundled_topology_reads_the_same() {
        let src = include_str!("../../topology.yaml");
        assert_same(src);
    }
}
