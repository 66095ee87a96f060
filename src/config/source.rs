//! Source files and locations: the text botform read, and byte spans into it.
//!
//! Owns turning byte offsets into 1-based line and column numbers (columns count characters, not
//! bytes, so text with non-ASCII characters before an error still points at the right column).
//! Every location elsewhere in botform is a [`Span`]: a file id plus a byte range.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Span {
            file,
            start: range.start as u32,
            end: range.end.max(range.start) as u32,
        }
    }

    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (same file assumed).
    pub fn join(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// The syntax a config file is written in, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Toml,
    Yaml,
}

impl Syntax {
    pub fn from_path(path: &Path) -> Option<Syntax> {
        match path.extension()?.to_str()? {
            "toml" => Some(Syntax::Toml),
            "yaml" | "yml" => Some(Syntax::Yaml),
            _ => None,
        }
    }
}

/// One file's text, with a line index for position lookups.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user should see it (relative when given relative).
    pub path: PathBuf,
    pub syntax: Syntax,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, syntax: Syntax, text: String) -> Self {
        // Lines end at LF, CRLF, or a CR alone (YAML's line breaks; a CR-only file is one
        // line per CR, in the human excerpt and the JSON report alike).
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(bytes.iter().enumerate().filter_map(|(i, b)| {
            let lone_cr = *b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
            (*b == b'\n' || lone_cr).then_some(i + 1)
        }));
        SourceFile {
            path,
            syntax,
            text,
            line_starts,
        }
    }

    pub fn display_name(&self) -> String {
        self.path.display().to_string()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self.text[start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// Byte offset of a 1-based line and 0-based character column (what YAML scanners report).
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        self.advance_chars(start, self.line_end(line), char_col)
    }

    /// Like [`offset_of`](Self::offset_of), continuing from a known earlier position on the same
    /// line (`from` = (char column, byte offset)), so a scan along one long line stays linear.
    pub fn offset_of_from(&self, line: usize, char_col: usize, from: (usize, usize)) -> usize {
        let (from_col, from_offset) = from;
        match self.line_starts.get(line.saturating_sub(1)) {
            Some(&start) if from_col <= char_col && from_offset >= start => {
                self.advance_chars(from_offset, self.line_end(line), char_col - from_col)
            }
            _ => self.offset_of(line, char_col),
        }
    }

    /// The byte offset where a 1-based line's text ends (before its newline).
    fn line_end(&self, line: usize) -> usize {
        self.line_starts
            .get(line)
            .map(|next| next - 1)
            .unwrap_or(self.text.len())
    }

    fn advance_chars(&self, from: usize, line_end: usize, chars: usize) -> usize {
        self.text[from..line_end]
            .char_indices()
            .nth(chars)
            .map(|(i, _)| from + i)
            .unwrap_or(line_end)
    }

    /// Nearest char boundary at or before `offset`, within the text.
    pub fn clamp(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// Every file read in one run; [`FileId`]s index into it.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    files: Vec<SourceFile>,
}

impl SourceSet {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("a.toml".into(), Syntax::Toml, "é = 1\nnäme = x\n".into());
        let x = f.text.find('x').unwrap();
        assert_eq!(f.line_col(x), (2, 8));
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.offset_of(2, 7), x);
    }
}
