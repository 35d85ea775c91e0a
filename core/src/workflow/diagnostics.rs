//! Problems found in a workflow, each with the file, line and column it points at.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// One problem in a workflow or a file it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem is not at one place (a missing file, say).
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    /// A problem at byte range `span` of `source`.
    pub fn at(
        file: &str,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = line_and_column(source, span.start);
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with a whole file.
    pub fn in_file(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(formatter, "{}: {}", self.file, self.message)
        } else {
            write!(
                formatter,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// 1-based line and column of byte `offset` in `source`.
pub(super) fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let source = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_and_column(source, 0), (1, 1));
        assert_eq!(line_and_column(source, source.find('"').unwrap()), (2, 6));
        assert_eq!(line_and_column(source, 10_000), (3, 1));
    }
}
