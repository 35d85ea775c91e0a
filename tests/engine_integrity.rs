//! Integrity with real processes: a history whose rows were edited or cut short, a database file
//! with a flipped byte or cut in half, and a damaged or missing blob are each reported clearly
//! (naming the execution and the event, or the blob) and never replayed into a wrong result;
//! replay passes on intact histories and reports a changed definition as non-determinism.

mod engine_helpers;
mod support;

use std::path::PathBuf;

use engine_helpers::{
    assert_no_panic, assert_refused, call_keys, host_with_backtraces, run_counting, status,
};
use pipeline_core::Event;
use rusqlite::Connection;
use support::{Sandbox, assert_success, text};

/// The sandbox's history tables opened for tampering, on whichever database holds them.
enum Tables {
    Sqlite(Connection),
    Postgres(::postgres::Client),
}

impl Tables {
    /// For SQLite, with everything the processes wrote moved from the write-ahead log into
    /// the main file.
    fn open(sandbox: &Sandbox) -> Tables {
        match &sandbox.database {
            Some(url) => Tables::Postgres(
                ::postgres::Client::connect(url, ::postgres::NoTls)
                    .expect("database accepts connections"),
            ),
            None => {
                let connection =
                    Connection::open(history_file(sandbox)).expect("history database opens");
                connection
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .expect("checkpoint");
                Tables::Sqlite(connection)
            }
        }
    }

    /// Runs a statement (SQL both databases understand, values written in); the rows changed.
    fn execute(&mut self, sql: &str) -> u64 {
        match self {
            Tables::Sqlite(connection) => connection.execute(sql, []).unwrap() as u64,
            Tables::Postgres(client) => client.execute(sql, &[]).unwrap(),
        }
    }

    /// The (number, text) rows of a query.
    fn pairs(&mut self, sql: &str) -> Vec<(i64, String)> {
        match self {
            Tables::Sqlite(connection) => connection
                .prepare(sql)
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap(),
            Tables::Postgres(client) => client
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect(),
        }
    }
}

fn history_file(sandbox: &Sandbox) -> PathBuf {
    sandbox.data().join("history.db")
}

/// The sequence and payload of the one event of `execution_id` of type `event_type` whose
/// payload contains `fragment`.
fn find_event(
    tables: &mut Tables,
    execution_id: &str,
    event_type: &str,
    fragment: &str,
) -> (u64, String) {
    let found = tables.pairs(&format!(
        "SELECT sequence, payload FROM events
         WHERE execution_id = '{execution_id}' AND event_type = '{event_type}' AND payload LIKE '%{fragment}%'"
    ));
    assert_eq!(
        found.len(),
        1,
        "expected one {event_type} of {execution_id} containing {fragment}"
    );
    (found[0].0 as u64, found[0].1.clone())
}

fn stored_event_count(sandbox: &Sandbox, execution_id: &str) -> i64 {
    Tables::open(sandbox).pairs(&format!(
        "SELECT count(*), '' FROM events WHERE execution_id = '{execution_id}'"
    ))[0]
        .0
}

/// The commands that must refuse a corrupt history of `id`.
fn reading_commands(id: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["status", id],
        vec!["status", id, "--json"],
        vec!["resume", id],
        vec!["replay", id],
        vec!["history", id],
    ]
}

fn an_edited_event_is_reported_with_its_execution_and_sequence_and_never_resumed() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "bystander", None);
    run_counting(&sandbox, "healthy", Some(14));
    // Stopped mid-run, so that a resume would go on from the edited result if it were trusted.
    run_counting(&sandbox, "edited", Some(14));
    let mut tables = Tables::open(&sandbox);
    let (sequence, _) = find_event(
        &mut tables,
        "edited",
        "ActivityCompleted",
        r#""activity":"first#0""#,
    );
    let changed = tables.execute(&format!(
        "UPDATE events SET payload = replace(payload, 'Begin with 3 items', 'Begin with 9 items')
         WHERE execution_id = 'edited' AND sequence = {sequence}
           AND payload LIKE '%Begin with 3 items%'"
    ));
    assert_eq!(changed, 1);
    drop(tables);
    let rows_before = stored_event_count(&sandbox, "edited");
    let ids = ["bystander", "healthy", "edited"];
    let calls_before = call_keys(&sandbox, &ids);

    let expected = format!("corrupt at event {sequence}");
    for arguments in reading_commands("edited") {
        let output = host_with_backtraces(&sandbox, &arguments);
        assert_refused(
            &output,
            4,
            &["execution edited", &expected],
            &arguments.join(" "),
        );
    }
    assert_eq!(
        call_keys(&sandbox, &ids),
        calls_before,
        "no plugin may be called for a corrupt history"
    );
    assert_eq!(
        stored_event_count(&sandbox, "edited"),
        rows_before,
        "nothing may be appended to a corrupt history"
    );
    // The damage is confined to its execution: a worker reports it and drives the others.
    let worker = host_with_backtraces(&sandbox, &["worker"]);
    assert_no_panic(&worker, "worker");
    assert!(
        text(&worker.stderr).contains(&format!(
            "edited: history of execution edited is {expected}"
        )),
        "the worker should report the corrupt execution: {}",
        text(&worker.stderr)
    );
    assert!(
        text(&worker.stdout).contains("healthy: completed"),
        "{}",
        text(&worker.stdout)
    );
    assert!(
        !call_keys(&sandbox, &ids)[calls_before.len()..]
            .iter()
            .any(|key| key.starts_with("edited/")),
        "no plugin may be called for the corrupt execution"
    );
    assert_eq!(stored_event_count(&sandbox, "edited"), rows_before);
    assert_success(&sandbox.host(&["replay", "bystander"]));
    assert_success(&sandbox.host(&["replay", "healthy"]));
}

fn a_history_cut_short_or_with_a_gap_is_reported() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "cut", None);
    run_counting(&sandbox, "gap", None);
    let total = sandbox.history("cut").len() as i64;
    let mut tables = Tables::open(&sandbox);
    let deleted = tables.execute(&format!(
        "DELETE FROM events WHERE execution_id = 'cut' AND sequence > {}",
        total - 3
    ));
    assert_eq!(deleted, 3);
    let deleted = tables.execute("DELETE FROM events WHERE execution_id = 'gap' AND sequence = 10");
    assert_eq!(deleted, 1);
    drop(tables);

    let cut_at = format!("corrupt at event {}", total - 2);
    for arguments in reading_commands("cut") {
        let output = host_with_backtraces(&sandbox, &arguments);
        assert_refused(
            &output,
            4,
            &["execution cut", &cut_at, "truncated"],
            &arguments.join(" "),
        );
    }
    for arguments in reading_commands("gap") {
        let output = host_with_backtraces(&sandbox, &arguments);
        assert_refused(
            &output,
            4,
            &["execution gap", "corrupt at event 10", "missing"],
            &arguments.join(" "),
        );
    }
}

#[test]
fn a_flipped_byte_in_the_database_file_is_detected() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "flipped", None);
    let sequence = flip_in_stored_result(&sandbox, "flipped", |_| b'G');

    let expected = format!("execution flipped is corrupt at event {sequence}");
    for arguments in reading_commands("flipped") {
        let output = host_with_backtraces(&sandbox, &arguments);
        let stderr = text(&output.stderr);
        let command = arguments.join(" ");
        assert_eq!(output.status.code(), Some(4), "`host {command}`: {stderr}");
        assert!(
            stderr.contains(&expected) || stderr.contains("malformed"),
            "`host {command}` should report the damaged event {sequence}: {stderr}"
        );
        assert_no_panic(&output, &command);
    }
}

/// One bit flip in ASCII text (its high bit) leaves bytes that are not UTF-8. That is damage
/// to one event like any other and must be reported as such, naming the execution and event.
#[test]
fn a_flipped_bit_that_breaks_a_payloads_utf8_is_reported_as_corruption_of_that_event() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "garbled", None);
    let sequence = flip_in_stored_result(&sandbox, "garbled", |byte| byte ^ 0x80);

    let expected = format!("execution garbled is corrupt at event {sequence}");
    for arguments in reading_commands("garbled") {
        let output = host_with_backtraces(&sandbox, &arguments);
        assert_refused(&output, 4, &[&expected], &arguments.join(" "));
    }
}

/// Changes one byte of the stored result of the counting workflow's `fan#0/2` activity right
/// in the database file, and returns the sequence of the event that holds it.
fn flip_in_stored_result(sandbox: &Sandbox, execution_id: &str, change: fn(u8) -> u8) -> u64 {
    let mut tables = Tables::open(sandbox);
    let (sequence, payload) = find_event(
        &mut tables,
        execution_id,
        "ActivityCompleted",
        r#""activity":"fan#0/2""#,
    );
    drop(tables);
    // The payload is unique to its row; stale copies may linger in free space, and changing
    // those too is harmless. The first letter of the item's name changes in each.
    let offset_in_payload = payload.find("gamma").expect("the result names its item");
    let path = history_file(sandbox);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut changed = 0;
    let mut start = 0;
    while let Some(found) = find_bytes(&bytes[start..], payload.as_bytes()) {
        let at = start + found + offset_in_payload;
        bytes[at] = change(bytes[at]);
        changed += 1;
        start = at;
    }
    assert!(
        changed >= 1,
        "the payload should be stored in the database file"
    );
    std::fs::write(&path, &bytes).unwrap();
    sequence
}

#[test]
fn a_database_file_cut_in_half_gives_a_clear_error() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "halved", None);
    drop(Tables::open(&sandbox));
    let path = history_file(&sandbox);
    let length = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(length / 2)
        .unwrap();

    let mut commands = reading_commands("halved");
    commands.push(vec!["list"]);
    for arguments in commands {
        let output = host_with_backtraces(&sandbox, &arguments);
        let command = arguments.join(" ");
        assert_refused(&output, 4, &["history database"], &command);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("malformed") || stderr.contains("corrupt"),
            "`host {command}` should say the database is damaged: {stderr}"
        );
    }
}

fn a_damaged_or_missing_blob_fails_the_activity_that_reads_it() {
    let sandbox = Sandbox::new().damaged_on_purpose();
    let workflows = sandbox.repository_workflows("workflows");
    let podcast = workflows.join("podcast.toml");
    assert_success(&sandbox.host(&[
        "run",
        podcast.to_str().unwrap(),
        "--input",
        "topic=tides",
        "--id",
        "episode",
        "--auto-approve",
    ]));
    assert_success(&sandbox.host(&["replay", "episode"]));
    let clips = sandbox
        .history("episode")
        .into_iter()
        .find_map(|(event, _)| match event {
            Event::StageCompleted { stage, output } if stage.0 == "audio_synthesis" => Some(output),
            _ => None,
        })
        .expect("speech was synthesized");
    let digest = clips[0]["audio"]["digest"]
        .as_str()
        .expect("a clip is a blob reference")
        .to_string();
    let hex_digits = digest.strip_prefix("sha256:").unwrap();
    let blob = sandbox
        .data()
        .join("blobs")
        .join(&hex_digits[..2])
        .join(hex_digits);

    let mut bytes = std::fs::read(&blob).expect("the clip is in the blob store");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    if sandbox.database.is_some() {
        // A damaged copy here is replaced from the database: damage that one too.
        // Chunks of 1 MiB.
        let (chunk, offset) = (middle >> 20, middle & ((1 << 20) - 1));
        let changed = Tables::open(&sandbox).execute(&format!(
            "UPDATE blob_chunks SET data = set_byte(data, {offset}, get_byte(data, {offset}) # 1)
             WHERE digest = '{digest}' AND chunk = {chunk}"
        ));
        assert_eq!(changed, 1, "the clip is in the shared database");
    }
    assert_mixing_fails_naming(&sandbox, &digest, "corrupt");

    std::fs::remove_file(&blob).unwrap();
    if sandbox.database.is_some() {
        Tables::open(&sandbox).execute(&format!("DELETE FROM blobs WHERE digest = '{digest}'"));
    }
    assert_mixing_fails_naming(&sandbox, &digest, "missing");
}

/// Resets the episode to its mixing stage and checks that mixing fails, naming the blob, and
/// that the failure is recorded as such (the history itself stays intact and replays).
fn assert_mixing_fails_naming(sandbox: &Sandbox, digest: &str, problem: &str) {
    let reset = sandbox.host(&["reset", "episode", "--to", "audio_mixing"]);
    assert_eq!(
        reset.status.code(),
        Some(1),
        "the mixing should fail: {}",
        text(&reset.stderr)
    );
    let status = status(sandbox, "episode");
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["stage"], "audio_mixing", "{status}");
    assert_eq!(status["error"]["kind"], "blob-corrupt", "{status}");
    let message = status["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(digest) && message.contains(problem),
        "the error should name blob {digest} as {problem}: {message}"
    );
    let history = sandbox.history("episode");
    let since_reset = history
        .iter()
        .rposition(|(event, _)| matches!(event, Event::ExecutionReset { .. }))
        .expect("the reset is recorded");
    assert!(
        !history[since_reset..].iter().any(|(event, _)| matches!(
            event,
            Event::ActivityCompleted { .. } | Event::ExecutionCompleted { .. }
        )),
        "nothing may complete from a damaged clip"
    );
    assert_success(&sandbox.host(&["replay", "episode"]));
}

fn replay_reports_a_changed_definition_as_non_determinism() {
    let sandbox = Sandbox::new().with_counter().damaged_on_purpose();
    run_counting(&sandbox, "pinned", None);
    let workflow = sandbox.workflow("counting");
    let definition = workflow.to_str().unwrap();
    assert_success(&sandbox.host(&["replay", "pinned", "--definition", definition]));

    let prompt = workflow.with_file_name("first.md");
    let edited = std::fs::read_to_string(&prompt)
        .unwrap()
        .replace("Begin with", "Start with");
    std::fs::write(&prompt, edited).unwrap();
    let output = sandbox.host(&["replay", "pinned", "--definition", definition]);
    assert_refused(
        &output,
        1,
        &[
            "execution pinned",
            "non-determinism at event 3",
            "Start with",
        ],
        "replay --definition",
    );
    // The pinned definition is unaffected by the edit.
    assert_success(&sandbox.host(&["replay", "pinned"]));
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

support::postgres::on_both_stores!(
    an_edited_event_is_reported_with_its_execution_and_sequence_and_never_resumed,
    a_history_cut_short_or_with_a_gap_is_reported,
    a_damaged_or_missing_blob_fails_the_activity_that_reads_it,
    replay_reports_a_changed_definition_as_non_determinism,
);
