//! The history store on real SQLite databases on disk: appends are durable and ordered,
//! concurrent appends share commits, and every kind of damage (an edited row, a deleted row, a
//! flipped byte in the file, a truncated file) is reported, never replayed.

use std::sync::Arc;

use host::history::{Durability, HistoryError, HistoryStore, NewEvent, SqliteStore};

fn event(event_type: &str, payload: &str, at: i64) -> NewEvent {
    NewEvent {
        event_type: event_type.to_string(),
        payload: payload.to_string(),
        recorded_at_ms: at,
    }
}

fn three_events() -> Vec<NewEvent> {
    vec![
        event("ExecutionStarted", r#"{"topic":"tea"}"#, 1_000),
        event("StageStarted", r#"{"stage":"IDEATION"}"#, 1_001),
        event(
            "ActivityCompleted",
            r#"{"result":"MARKER-PAYLOAD-FOR-BYTE-FLIP"}"#,
            1_002,
        ),
    ]
}

#[tokio::test]
async fn appended_events_survive_reopening_in_order() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("history.db");
    {
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        let stored = store.append("ep-1", 1, three_events()).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|event| event.sequence)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        store
            .append("ep-1", 4, vec![event("StageCompleted", "{}", 1_003)])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    let events = store.read("ep-1").unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].event_type, "ExecutionStarted");
    assert_eq!(events[3].event_type, "StageCompleted");
    assert_eq!(store.last_sequence("ep-1").unwrap(), 4);
    assert_eq!(store.last_sequence("unknown").unwrap(), 0);
    assert!(store.read("unknown").unwrap().is_empty());
}

#[tokio::test]
async fn an_append_that_does_not_follow_the_history_is_refused_and_changes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(&directory.path().join("history.db"), Durability::Normal).unwrap();
    store.append("ep-1", 1, three_events()).await.unwrap();
    for wrong in [1, 3, 5] {
        let error = store
            .append("ep-1", wrong, vec![event("StageStarted", "{}", 2_000)])
            .await
            .unwrap_err();
        assert!(
            matches!(error, HistoryError::Conflict { actual: 3, .. }),
            "{error}"
        );
    }
    assert_eq!(store.read("ep-1").unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_commits() {
    let directory = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&directory.path().join("history.db"), Durability::Full).unwrap(),
    );
    let executions = 200;
    let tasks: Vec<_> = (0..executions)
        .map(|index| {
            let store = store.clone();
            tokio::spawn(async move {
                let execution_id = format!("ep-{index}");
                for sequence in 1..=3 {
                    store
                        .append(
                            &execution_id,
                            sequence,
                            vec![event("Step", &format!("{{\"n\":{sequence}}}"), 0)],
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for index in 0..executions {
        assert_eq!(store.read(&format!("ep-{index}")).unwrap().len(), 3);
    }
    let appends = executions as u64 * 3;
    assert!(
        store.commit_count() < appends,
        "{} commits for {appends} appends: no group commit",
        store.commit_count()
    );
}

/// Opens the database behind the store's back, as an attacker or a broken tool would.
fn tamper(path: &std::path::Path, sql: &str) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.execute_batch(sql).unwrap();
}

fn assert_corrupt_at(store_path: &std::path::Path, expected_sequence: u64) {
    let store = SqliteStore::open(store_path, Durability::Full).unwrap();
    match store.read("ep-1") {
        Err(HistoryError::Corrupt {
            execution_id,
            sequence,
            reason,
        }) => {
            assert_eq!(execution_id, "ep-1");
            assert_eq!(sequence, expected_sequence, "{reason}");
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

async fn history_with_three_events(path: &std::path::Path) {
    let store = SqliteStore::open(path, Durability::Full).unwrap();
    store.append("ep-1", 1, three_events()).await.unwrap();
}

#[tokio::test]
async fn an_edited_row_is_detected() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("history.db");
    history_with_three_events(&path).await;
    tamper(
        &path,
        r#"UPDATE events SET payload = '{"stage":"OUTLINING"}' WHERE sequence = 2"#,
    );
    assert_corrupt_at(&path, 2);
}

#[tokio::test]
async fn a_deleted_row_is_detected() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("history.db");
    history_with_three_events(&path).await;
    tamper(&path, "DELETE FROM events WHERE sequence = 2");
    assert_corrupt_at(&path, 2);
}

#[tokio::test]
async fn a_flipped_byte_in_the_file_is_detected() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("history.db");
    history_with_three_events(&path).await;
    // Fold the WAL into the main file so the event rows are there to damage.
    tamper(&path, "PRAGMA wal_checkpoint(TRUNCATE);");
    let mut bytes = std::fs::read(&path).unwrap();
    let marker = b"MARKER-PAYLOAD";
    let at = bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("payload is in the file");
    bytes[at] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    assert_corrupt_at(&path, 3);
}

#[tokio::test]
async fn a_truncated_or_foreign_file_is_refused_with_its_path() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("history.db");
    history_with_three_events(&path).await;
    tamper(&path, "PRAGMA wal_checkpoint(TRUNCATE);");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let outcome = SqliteStore::open(&path, Durability::Full).and_then(|store| store.read("ep-1"));
    match outcome {
        Err(HistoryError::Database { database, .. }) => {
            assert_eq!(database, path.display().to_string())
        }
        Err(HistoryError::Corrupt { .. }) => {}
        other => panic!("a truncated database was read as {other:?}"),
    }

    let foreign = directory.path().join("notes.db");
    std::fs::write(
        &foreign,
        "these are not the droids you are looking for, repeated ".repeat(100),
    )
    .unwrap();
    let error = SqliteStore::open(&foreign, Durability::Full).err().unwrap();
    assert!(error.to_string().contains("notes.db"), "{error}");
}

#[tokio::test]
async fn a_driver_whose_lease_was_taken_over_cannot_append() {
    use host::history::LeaseOwner;
    let directory = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(&directory.path().join("history.db"), Durability::Normal).unwrap();
    // Owners on another "machine", so only expiry (not a missing pid) frees a lease.
    let owner = |id: &str| LeaseOwner {
        id: id.to_string(),
        pid: std::process::id(),
        hostname: "elsewhere".into(),
    };
    let (first, second) = (owner("first"), owner("second"));
    assert!(
        store
            .acquire_lease("ep-1", &first, 0, 1_000)
            .await
            .unwrap()
            .is_ok()
    );
    store
        .append_with("ep-1", 1, three_events(), None, Some(first.id.clone()))
        .await
        .unwrap();
    let refused = store
        .acquire_lease("ep-1", &second, 500, 1_000)
        .await
        .unwrap();
    assert_eq!(
        refused.unwrap_err().owner,
        "first",
        "a live lease is not taken"
    );
    assert!(
        store
            .acquire_lease("ep-1", &second, 2_000, 1_000)
            .await
            .unwrap()
            .is_ok(),
        "an expired lease is taken over"
    );
    let late = store
        .append_with(
            "ep-1",
            4,
            vec![event("StageCompleted", "{}", 2_001)],
            None,
            Some(first.id.clone()),
        )
        .await;
    assert!(
        matches!(late, Err(HistoryError::LeaseLost { ref holder, .. }) if holder.contains("second")),
        "{late:?}"
    );
    assert_eq!(
        store.last_sequence("ep-1").unwrap(),
        3,
        "nothing of the refused append is recorded"
    );
    store
        .append_with(
            "ep-1",
            4,
            vec![event("StageCompleted", "{}", 2_001)],
            None,
            Some(second.id.clone()),
        )
        .await
        .unwrap();
}
