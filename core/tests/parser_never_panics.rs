//! No input makes the loader or the validator panic. A small deterministic generator (a
//! SplitMix64 generator seeded per iteration, so a failure names the seed that reproduces it)
//! writes random bytes, random text and mutations of the minimal valid workflow, with mutated
//! prompt and schema files beside it, then loads and validates each. Every diagnostic must also
//! point inside the file it names.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use pipeline_core::workflow::load_bundle;
use pipeline_core::{Definition, Diagnostic};

/// A few seconds in a debug build.
const ITERATIONS: u64 = 5_000;
/// Changing it explores other inputs; a failure report names the seed to put back.
const BASE_SEED: u64 = 0x5eed_f00d;

const PROMPT: &str = "script.md";
const SYSTEM: &str = "system.md";
const SCHEMA: &str = "script.schema.json";

/// Pieces that mean something to one of the parsers: TOML structure, `${VAR}`, template
/// syntax, odd numbers and odd characters.
const FRAGMENTS: &[&str] = &[
    "${",
    "${PRESENT_VAR}",
    "${MISSING_VAR}",
    "$${",
    "${1BAD}",
    "${}",
    "}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ item }}",
    "{{ index }}",
    "{{ stages.script.output }}",
    "{{ stages.mix.output }}",
    "{{ inputs.topic }}",
    "{{ show.name }}",
    "{% for x in y %}",
    "{% endfor %}",
    "{% if %}",
    "{{ 1 + }}",
    "{{ range(99999999999) }}",
    "[[stages]]",
    "[stages.input]",
    "[stages.retry]",
    "[inputs.extra]",
    "[providers]",
    "[plugins.x]",
    "[defaults]",
    "id = \"script\"",
    "id = \"\"",
    "call = \"llm.generate\"",
    "call = \"x\"",
    "call = \"episode.publish\"",
    "approval = { subject = \"script\" }",
    "approval = { subject = \"\" }",
    "for_each = \"inputs.speakers\"",
    "for_each = \"\"",
    "when = \"\"",
    "concurrency = 0",
    "concurrency = 4294967296",
    "max_attempts = 0",
    "backoff_coefficient = nan",
    "backoff_coefficient = -inf",
    "timeout = \"99999999999999999d\"",
    "timeout = \"\"",
    "prompt = \"\"",
    "prompt = \"../\"",
    "prompt = \"/\"",
    "schema = \"script.md\"",
    "default = 1979-05-27T07:32:00Z",
    "type = \"list\"",
    "type = \"\"",
    "99999999999999999999999",
    "-9223372036854775809",
    "1e400",
    "0x7fffffffffffffff",
    "nan",
    "inf",
    "true",
    "[]",
    "{}",
    "= =",
    "a.b.c = 1",
    "\"\"\"",
    "'''",
    "\"",
    "'",
    "#",
    "=",
    ".",
    ",",
    "[",
    "]",
    "{",
    "}",
    "\\",
    "\\u0000",
    "\\uD800",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{0}",
    "é",
    "ß",
    "𝄞",
    "\u{10FFFF}",
    "\u{FEFF}",
    "\u{202E}",
    "名前 = \"値\"",
];

/// Contents for a string value: what the validator reads meaning into.
const STRINGS: &[&str] = &[
    "",
    " ",
    "script",
    "review",
    "voices",
    "mix",
    "nope",
    "a-b",
    "1st",
    "llm.generate",
    "tts.synthesize",
    "mixer.mix",
    "image.generate",
    "episode.publish",
    "llm.summon",
    "llm",
    "x.y.z",
    ".",
    "string",
    "list",
    "object",
    "integer",
    "bool",
    "fail",
    "continue",
    "0ms",
    "30s",
    "1h30m",
    "5 minutes",
    "99999999999999999999d",
    "18446744073709551615ms",
    "inputs.speakers",
    "inputs.topic",
    "inputs",
    "item",
    "index",
    "stages.script.output.lines",
    "stages.script.output",
    "stages.mix.output",
    "stages.script.output.lines.0",
    "show.hosts",
    "not inputs.topic",
    "inputs.topic ==",
    "(((((((((((((((((((((((((1)))))))))))))))))))))))))",
    "{{ item.text | upper }}",
    "{{ stages.voices.output | flatten }}",
    "{{ item.speaker | voice_for(show.hosts) }}",
    "{% for x in inputs.speakers %}{{ x }}{% endfor %}",
    "{{ stages.script.output }}",
    "{{ stages.review.output }}",
    "{{ loop.index }}",
    "{{ range(5) }}",
    "{{ execution.id }}",
    "{{ 1 / 0 }}",
    "{% macro m() %}{% endmacro %}{{ m() }}",
    "{% set x = inputs.topic %}{{ x }}",
    "{{ inputs['topic'] }}",
    "{{ stages['script'].output }}",
    "https://api.example.com",
    "http://127.0.0.1:8080",
    "https://a.b/c",
    "ftp://x",
    "API_KEY",
    "API-KEY",
    "script.md",
    "system.md",
    "script.schema.json",
    "../script.md",
    "missing.md",
    "type",
    "properties",
    "array",
    "object",
    "lines",
];

/// Bare values: numbers that overflow, floats that are not numbers, and other types.
const BARE_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999",
    "1e400",
    "-0.0",
    "0.5",
    "nan",
    "-inf",
    "true",
    "1979-05-27",
    "07:32:00",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "\"7\"",
    "\"\"",
];

/// SplitMix64: tiny, fast and good enough to drive a fuzzer.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` must not be 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn one_in(&mut self, odds: usize) -> bool {
        self.below(odds) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A byte offset of `text` that is a character boundary.
    fn boundary(&mut self, text: &str) -> usize {
        let mut offset = self.below(text.len() + 1);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    fn char(&mut self) -> char {
        match self.below(4) {
            0 => char::from(b' ' + self.below(95) as u8),
            1 => char::from(self.below(32) as u8),
            2 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
            _ => self.pick(FRAGMENTS).chars().next().unwrap_or('x'),
        }
    }

    fn text(&mut self, length: usize) -> String {
        let mut text = String::new();
        while text.len() < length {
            if self.one_in(3) {
                text.push_str(self.pick(FRAGMENTS));
            } else {
                text.push(self.char());
            }
        }
        text
    }
}

/// The four files of one case.
struct Case {
    workflow: Vec<u8>,
    prompt: String,
    system: String,
    schema: String,
}

/// The valid files every mutation starts from.
struct Base {
    workflow: String,
    prompt: String,
    system: String,
    schema: String,
}

impl Base {
    fn load() -> Base {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/minimal");
        let read = |name: &str| {
            std::fs::read_to_string(directory.join(name))
                .unwrap_or_else(|error| panic!("cannot read fixture {name}: {error}"))
        };
        Base {
            workflow: read("workflow.toml"),
            prompt: read(PROMPT),
            system: read(SYSTEM),
            schema: read(SCHEMA),
        }
    }
}

/// Deep nesting, as TOML, as a template or as JSON, for the parsers' recursion limits.
fn nesting(random: &mut Random) -> String {
    let depth = 1 + random.below(3_000);
    match random.below(5) {
        0 => format!("x = {}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("x = {}1{}", "{ a = ".repeat(depth), " }".repeat(depth)),
        2 => format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth)),
        3 => "{% if true %}".repeat(depth.min(500)) + &"{% endif %}".repeat(depth.min(500)),
        _ => format!("{}0{}", "[".repeat(depth), "]".repeat(depth)),
    }
}

/// `text` as the inside of a TOML basic string (and of a JSON string).
fn escaped(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => escaped.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Replaces what is between a pair of quotes on one of `lines`, keeping the file's syntax.
fn replace_string(random: &mut Random, lines: &mut [String]) {
    let quoted: Vec<usize> = (0..lines.len())
        .filter(|&index| {
            let quotes = lines[index].matches('"').count();
            quotes >= 2 && quotes.is_multiple_of(2) && !lines[index].contains('\\')
        })
        .collect();
    if quoted.is_empty() {
        return;
    }
    let line = &mut lines[quoted[random.below(quoted.len())]];
    let quotes: Vec<usize> = line.match_indices('"').map(|(offset, _)| offset).collect();
    let pair = random.below(quotes.len() / 2);
    let contents = if random.one_in(4) {
        let length = random.below(20);
        random.text(length)
    } else {
        random.pick(STRINGS).to_string()
    };
    line.replace_range(
        quotes[2 * pair] + 1..quotes[2 * pair + 1],
        &escaped(&contents),
    );
}

/// Replaces the value of a `key = value` line whose value is not a string.
fn replace_bare_value(random: &mut Random, lines: &mut [String]) {
    let bare: Vec<usize> = (0..lines.len())
        .filter(|&index| {
            lines[index]
                .split_once(" = ")
                .is_some_and(|(_, value)| !value.starts_with(['"', '{', '[']))
        })
        .collect();
    if bare.is_empty() {
        return;
    }
    let line = &mut lines[bare[random.below(bare.len())]];
    let key = line
        .split_once(" = ")
        .map_or("", |(key, _)| key)
        .to_string();
    *line = format!("{key} = {}\n", random.pick(BARE_VALUES));
}

/// An edit of whole lines or of values, after which the text mostly still parses, so that the
/// checks behind the parser are reached.
fn edit_keeping_syntax(random: &mut Random, text: &mut String) {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if lines.is_empty() {
        return;
    }
    let (first, second) = (random.below(lines.len()), random.below(lines.len()));
    match random.below(10) {
        0 => {
            lines.remove(first);
        }
        1 => lines.insert(first, lines[second].clone()),
        2 => lines.swap(first, second),
        3..=6 => replace_string(random, &mut lines),
        _ => replace_bare_value(random, &mut lines),
    }
    *text = lines.concat();
}

/// An edit anywhere in the text, which mostly breaks its syntax.
fn edit_anything(random: &mut Random, text: &mut String) {
    let (first, second) = (random.boundary(text), random.boundary(text));
    match random.below(4) {
        0 => text.truncate(first),
        1 => text.insert_str(first, &nesting(random)),
        2 => {
            let length = random.below(12);
            let replacement = random.text(length);
            text.replace_range(first.min(second)..first.max(second), &replacement);
        }
        _ => text.insert_str(first, random.pick(FRAGMENTS)),
    }
}

/// `base` after one edit anywhere, or a few that keep its syntax.
fn mutated(random: &mut Random, base: &str) -> String {
    let mut text = base.to_string();
    if random.one_in(3) {
        edit_anything(random, &mut text);
    } else {
        for _ in 0..1 + random.below(4) {
            edit_keeping_syntax(random, &mut text);
        }
    }
    text
}

fn generate(random: &mut Random, base: &Base) -> Case {
    let workflow = match random.below(10) {
        0 => (0..random.below(300))
            .map(|_| random.next() as u8)
            .collect(),
        1 => {
            let length = random.below(400);
            random.text(length).into_bytes()
        }
        // The valid workflow, for the prompt and schema files' edits to be read.
        2 | 3 => base.workflow.clone().into_bytes(),
        _ => mutated(random, &base.workflow).into_bytes(),
    };
    let mut file = |base: &str| {
        if random.one_in(3) {
            mutated(random, base)
        } else {
            base.to_string()
        }
    };
    Case {
        workflow,
        prompt: file(&base.prompt),
        system: file(&base.system),
        schema: file(&base.schema),
    }
}

fn lookup(name: &str) -> Option<String> {
    (name == "PRESENT_VAR").then(|| "present-value".to_string())
}

/// Loads and validates the workflow at `path`, giving whatever diagnostics come back.
fn load_and_build(path: &Path) -> Vec<Diagnostic> {
    match load_bundle(path, &lookup) {
        Err(diagnostics) => diagnostics,
        Ok(bundle) => Definition::from_bundle(&bundle).err().unwrap_or_default(),
    }
}

/// Why `diagnostic` does not point inside its file, if it does not. A file that cannot be read
/// (a prompt the mutation renamed, say) is not checked.
fn misplaced(directory: &Path, diagnostic: &Diagnostic) -> Option<String> {
    let text = std::fs::read(directory.join(&diagnostic.file)).ok()?;
    let text = String::from_utf8_lossy(&text);
    let lines = text.split('\n').count();
    let fits = match diagnostic.line {
        0 => diagnostic.column == 0,
        line => line <= lines && diagnostic.column >= 1,
    };
    (!fits).then(|| format!("diagnostic outside its file of {lines} lines: {diagnostic}"))
}

fn describe(seed: u64, case: &Case, problem: &str) -> String {
    format!(
        "seed {seed:#x}: {problem}\n--- workflow.toml ---\n{:?}\n--- {PROMPT} ---\n{:?}\n--- {SYSTEM} ---\n{:?}\n--- {SCHEMA} ---\n{:?}",
        String::from_utf8_lossy(&case.workflow),
        case.prompt,
        case.system,
        case.schema
    )
}

#[test]
fn no_input_makes_the_loader_or_the_validator_panic() {
    let base = Base::load();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let root: PathBuf = directory.path().to_path_buf();
    let workflow_path = root.join("workflow.toml");
    // What each file holds now: most cases leave most files as they were, and writing only
    // what changed keeps the run short.
    let mut written: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for iteration in 0..ITERATIONS {
        let seed = BASE_SEED.wrapping_add(iteration);
        let case = generate(&mut Random(seed), &base);
        for (name, contents) in [
            ("workflow.toml", case.workflow.as_slice()),
            (PROMPT, case.prompt.as_bytes()),
            (SYSTEM, case.system.as_bytes()),
            (SCHEMA, case.schema.as_bytes()),
        ] {
            if written.get(name).is_none_or(|current| current != contents) {
                // A new file rather than a truncated one, which ext4 would flush to the disk.
                let _ = std::fs::remove_file(root.join(name));
                std::fs::write(root.join(name), contents).expect("the case's files are written");
                written.insert(name, contents.to_vec());
            }
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| load_and_build(&workflow_path)));
        let diagnostics = match outcome {
            Ok(diagnostics) => diagnostics,
            Err(_) => panic!(
                "{}",
                describe(seed, &case, "the loader or the validator panicked")
            ),
        };
        for diagnostic in &diagnostics {
            if let Some(problem) = misplaced(&root, diagnostic) {
                panic!("{}", describe(seed, &case, &problem));
            }
        }
    }
}
