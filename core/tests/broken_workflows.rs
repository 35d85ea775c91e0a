//! The corpus of broken workflows under `tests/fixtures/broken`: each case is a directory with
//! a `workflow.toml`, the files it names, and an `expected.txt` listing every diagnostic the
//! loader and the validator must report for it, no more and no fewer.
//!
//! A line of `expected.txt` reads `file:line:column: message part`, the way diagnostics are
//! printed: `file` is the name of the file the diagnostic points into, `column` may be `*`
//! for any, and `message part` must occur in the diagnostic's message. Blank lines and lines
//! starting with `#` are ignored. The order of the lines does not matter.

use std::fmt;
use std::path::{Path, PathBuf};

use pipeline_core::workflow::load_bundle;
use pipeline_core::{Definition, Diagnostic};

/// The only environment variable the corpus's lookup knows.
const PRESENT_VAR: &str = "PRESENT_VAR";

/// A corpus smaller than this means the fixtures were not found, not that all is well.
const MINIMUM_CASES: usize = 40;

/// One line of `expected.txt`.
struct Expected {
    file: String,
    line: usize,
    /// None matches any column.
    column: Option<usize>,
    message_part: String,
}

impl Expected {
    fn parse(text: &str) -> Result<Expected, String> {
        let mut fields = text.splitn(4, ':');
        let (Some(file), Some(line), Some(column), Some(message_part)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(format!(
                "expected line `{text}` is not `file:line:column: message`"
            ));
        };
        let number = |field: &str| {
            field
                .parse::<usize>()
                .map_err(|_| format!("`{field}` in expected line `{text}` is not a number"))
        };
        Ok(Expected {
            file: file.to_string(),
            line: number(line)?,
            column: match column {
                "*" => None,
                column => Some(number(column)?),
            },
            message_part: message_part.trim().to_string(),
        })
    }

    fn matches(&self, diagnostic: &Diagnostic) -> bool {
        let file = Path::new(&diagnostic.file);
        file.ends_with(&self.file)
            && diagnostic.line == self.line
            && self.column.is_none_or(|column| column == diagnostic.column)
            && diagnostic.message.contains(&self.message_part)
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self
            .column
            .map_or_else(|| "*".to_string(), |column| column.to_string());
        write!(
            formatter,
            "{}:{}:{}: {}",
            self.file, self.line, column, self.message_part
        )
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn lookup(name: &str) -> Option<String> {
    (name == PRESENT_VAR).then(|| "present-value".to_string())
}

/// Everything the loader and then the validator report for the workflow at `path`.
fn diagnostics(path: &Path) -> Vec<Diagnostic> {
    match load_bundle(path, &lookup) {
        Err(diagnostics) => diagnostics,
        Ok(bundle) => match Definition::from_bundle(&bundle) {
            Err(diagnostics) => diagnostics,
            Ok(_) => Vec::new(),
        },
    }
}

/// Pairs each expected line with a distinct diagnostic; describes what is left over on either
/// side.
fn compare(expected: &[Expected], actual: &[Diagnostic]) -> Result<(), String> {
    let mut unmatched: Vec<&Diagnostic> = actual.iter().collect();
    let mut missing = Vec::new();
    for want in expected {
        match unmatched
            .iter()
            .position(|diagnostic| want.matches(diagnostic))
        {
            Some(index) => {
                unmatched.remove(index);
            }
            None => missing.push(want),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return Ok(());
    }
    let mut report = String::new();
    for want in missing {
        report.push_str(&format!("  missing:    {want}\n"));
    }
    for diagnostic in unmatched {
        report.push_str(&format!("  unexpected: {diagnostic}\n"));
    }
    report.push_str("  reported:\n");
    for diagnostic in actual {
        report.push_str(&format!("    {diagnostic}\n"));
    }
    Err(report)
}

fn check_case(directory: &Path) -> Result<(), String> {
    let expected_path = directory.join("expected.txt");
    let text = std::fs::read_to_string(&expected_path)
        .map_err(|error| format!("  cannot read {}: {error}\n", expected_path.display()))?;
    let expected: Vec<Expected> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(Expected::parse)
        .collect::<Result<_, _>>()
        .map_err(|message| format!("  {message}\n"))?;
    if expected.is_empty() {
        return Err("  expected.txt lists no diagnostic; a broken workflow has some\n".into());
    }
    compare(&expected, &diagnostics(&directory.join("workflow.toml")))
}

#[test]
fn every_broken_workflow_reports_exactly_its_diagnostics() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("broken"))
        .expect("the corpus directory exists")
        .map(|entry| entry.expect("the corpus directory is readable").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= MINIMUM_CASES,
        "only {} cases found in the corpus",
        cases.len()
    );
    let mut failures = String::new();
    for case in &cases {
        if let Err(report) = check_case(case) {
            let name = case.file_name().unwrap_or_default().to_string_lossy();
            failures.push_str(&format!("case {name}:\n{report}"));
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn several_problems_are_reported_in_one_go() {
    let path = fixtures().join("broken/many_errors/workflow.toml");
    assert_eq!(diagnostics(&path).len(), 9);
}

#[test]
fn the_minimal_workflow_is_valid() {
    let path = fixtures().join("valid/minimal/workflow.toml");
    let bundle = load_bundle(&path, &lookup).expect("the minimal workflow loads");
    let definition = Definition::from_bundle(&bundle).expect("the minimal workflow is valid");
    assert_eq!(definition.stages.len(), 4);
    assert_eq!(definition.services_used(), ["llm", "tts", "mixer"]);
}
