//! The PostgreSQL store itself, on a real server: appends are ordered and refused when they do
//! not follow the history; a lease keeps other owners out until it expires, and an owner that
//! lost it can append nothing; writers in two processes' worth of stores racing on one
//! execution leave one verified history; a commit anywhere moves every store's change token
//! (LISTEN/NOTIFY); blobs round-trip in chunks; a schema from a newer host is refused; an
//! append whose commit went through but whose acknowledgement was lost with the connection is
//! recognised when tried again, not refused and not written twice.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::store::{
    HistoryError, HistoryStore, LeaseOwner, NewEvent, ScheduleRow, ScheduleStore, SharedBlobs,
};
use postgres_store::PostgresStore;
use support::postgres::{fresh_database, shared};

fn event(event_type: &str, at: i64) -> NewEvent {
    NewEvent {
        event_type: event_type.to_string(),
        payload: format!(r#"{{"at":{at}}}"#),
        recorded_at_ms: at,
    }
}

/// A fresh database, or `None` where PostgreSQL is not installed (a failure under CI).
fn database() -> Option<String> {
    shared()?;
    Some(fresh_database())
}

/// Two stores on one database, as two hosts open it.
fn two_hosts(url: &str) -> (PostgresStore, PostgresStore) {
    (
        PostgresStore::connect(url).unwrap(),
        PostgresStore::connect(url).unwrap(),
    )
}

fn owner(name: &str) -> LeaseOwner {
    LeaseOwner {
        id: name.to_string(),
        pid: 1,
        // Another machine as far as the lease rule goes: only expiry frees its lease.
        hostname: format!("machine-of-{name}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_follow_the_history_and_a_stale_one_is_refused_having_written_nothing() {
    let Some(url) = database() else { return };
    let store = PostgresStore::connect(&url).unwrap();
    store
        .append(
            "ep",
            1,
            vec![event("ExecutionStarted", 1), event("StageStarted", 2)],
        )
        .await
        .unwrap();
    let refused = store.append("ep", 2, vec![event("Late", 3)]).await;
    assert!(
        matches!(
            refused,
            Err(HistoryError::Conflict {
                expected: 2,
                actual: 2,
                ..
            })
        ),
        "{refused:?}"
    );
    store
        .append("ep", 3, vec![event("StageCompleted", 4)])
        .await
        .unwrap();
    let events = store.read("ep").unwrap();
    assert_eq!(
        events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect::<Vec<_>>(),
        ["ExecutionStarted", "StageStarted", "StageCompleted"]
    );
    assert_eq!(store.last_sequence("ep").unwrap(), 3);
    assert!(store.read("unknown").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_keeps_others_out_until_it_expires_and_fences_its_old_owner() {
    let Some(url) = database() else { return };
    let (first_host, second_host) = two_hosts(&url);
    let (first, second) = (owner("first"), owner("second"));
    first_host
        .acquire_lease("ep", &first, 1_000, 15_000)
        .await
        .unwrap()
        .unwrap();
    first_host
        .append_with(
            "ep",
            1,
            vec![event("ExecutionStarted", 1)],
            None,
            Some(first.id.clone()),
        )
        .await
        .unwrap();
    let holder = second_host
        .acquire_lease("ep", &second, 2_000, 15_000)
        .await
        .unwrap()
        .expect_err("a live lease keeps others out");
    assert_eq!(holder.owner, "first");
    assert_eq!(
        second_host
            .lease_holder("ep", 2_000)
            .unwrap()
            .map(|holder| holder.owner),
        Some("first".to_string())
    );
    // Past the first owner's expiry, the second takes over and appends.
    second_host
        .acquire_lease("ep", &second, 17_000, 15_000)
        .await
        .unwrap()
        .unwrap();
    second_host
        .append_with(
            "ep",
            2,
            vec![event("TakenOver", 2)],
            None,
            Some(second.id.clone()),
        )
        .await
        .unwrap();
    // The first owner wakes and tries to record what it was doing: refused, nothing written.
    let late = first_host
        .append_with(
            "ep",
            3,
            vec![event("Late", 3)],
            None,
            Some(first.id.clone()),
        )
        .await;
    assert!(
        matches!(late, Err(HistoryError::LeaseLost { .. })),
        "{late:?}"
    );
    second_host.release_lease("ep", &second).await.unwrap();
    let stale = first_host
        .append_with(
            "ep",
            2,
            vec![event("Late", 3)],
            None,
            Some(first.id.clone()),
        )
        .await;
    assert!(
        matches!(stale, Err(HistoryError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(second_host.read("ep").unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_racing_on_one_execution_leave_one_verified_history() {
    let Some(url) = database() else { return };
    let stores: Vec<Arc<PostgresStore>> = (0..2)
        .map(|_| Arc::new(PostgresStore::connect(&url).unwrap()))
        .collect();
    let mut writers = Vec::new();
    for (index, store) in stores.iter().enumerate() {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut written = 0;
            while written < 50 {
                let next = store.last_sequence("raced").unwrap() + 1;
                let at = (index * 1_000 + written) as i64;
                match store.append("raced", next, vec![event("Step", at)]).await {
                    Ok(_) => written += 1,
                    Err(HistoryError::Conflict { .. }) => {}
                    Err(other) => panic!("{other}"),
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let events = stores[0].read("raced").unwrap();
    assert_eq!(events.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_anywhere_moves_every_stores_change_token() {
    let Some(url) = database() else { return };
    let (watching, writing) = two_hosts(&url);
    let before = watching.change_token().unwrap();
    // The listener connects in the background; its connection counts as a change, so wait
    // for the count to settle before the commit that must be heard.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut settled = before;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = watching.change_token().unwrap();
        if now == settled && now != before {
            break;
        }
        settled = now;
        assert!(Instant::now() < deadline, "the listener never connected");
    }
    writing
        .append("elsewhere", 1, vec![event("ExecutionStarted", 1)])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while watching.change_token().unwrap() == settled {
        assert!(
            Instant::now() < deadline,
            "another store's commit was never heard"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn blobs_round_trip_in_chunks_and_a_second_upload_changes_nothing() {
    let Some(url) = database() else { return };
    let store = PostgresStore::connect(&url).unwrap();
    let bytes: Vec<u8> = (0..(2 << 20) + 12_345)
        .map(|index| (index % 251) as u8)
        .collect();
    let digest = "sha256:round-trip";
    assert!(!store.contains(digest).unwrap());
    assert_eq!(store.download(digest).unwrap(), None);
    store.upload(digest, bytes.clone()).unwrap();
    store.upload(digest, bytes.clone()).unwrap();
    assert!(store.contains(digest).unwrap());
    assert_eq!(store.download(digest).unwrap(), Some(bytes));
}

#[test]
fn a_schema_from_a_newer_host_is_refused() {
    let Some(url) = database() else { return };
    drop(PostgresStore::connect(&url).unwrap());
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    client
        .execute("UPDATE host_schema SET version = 99", &[])
        .unwrap();
    let refused = PostgresStore::connect(&url)
        .err()
        .expect("a newer schema is refused");
    assert!(
        refused.to_string().contains("schema version 99")
            && refused.to_string().contains("upgrade the host"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_added_once_moved_on_by_one_store_and_removed() {
    let Some(url) = database() else { return };
    let (first, second) = two_hosts(&url);
    let schedule = ScheduleRow {
        name: "weekly".into(),
        cron: "0 6 * * MON".into(),
        workflow: "/srv/workflows/podcast.toml".into(),
        request: r#"{"inputs":{"topic":"tea"},"providers":{}}"#.into(),
        created_at_ms: 1,
        next_due_ms: 1_000,
        last_execution: None,
    };
    assert!(first.add_schedule(&schedule).unwrap());
    assert!(
        !second.add_schedule(&schedule).unwrap(),
        "the name is taken"
    );
    assert_eq!(second.schedules().unwrap(), [schedule]);
    // Two hosts found the same due time: only one moves the schedule on.
    assert!(
        first
            .advance_schedule("weekly", 1_000, 2_000, Some("weekly-19700101T000001"))
            .unwrap()
    );
    assert!(
        !second
            .advance_schedule("weekly", 1_000, 2_000, Some("weekly-19700101T000001"))
            .unwrap()
    );
    // A due time that could not start moves on and keeps the last run named.
    assert!(
        second
            .advance_schedule("weekly", 2_000, 3_000, None)
            .unwrap()
    );
    let moved = &first.schedules().unwrap()[0];
    assert_eq!(moved.next_due_ms, 3_000);
    assert_eq!(
        moved.last_execution.as_deref(),
        Some("weekly-19700101T000001")
    );
    assert!(second.remove_schedule("weekly").unwrap());
    assert!(!first.remove_schedule("weekly").unwrap());
    assert!(first.schedules().unwrap().is_empty());
}

/// A TCP relay in front of the database that, once armed, cuts the connection right where the
/// server acknowledges a COMMIT, without passing the acknowledgement on: the commit went
/// through, and the client cannot know it.
struct CommitCutter {
    address: std::net::SocketAddr,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl CommitCutter {
    fn in_front_of(upstream: std::net::SocketAddr) -> CommitCutter {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cutting = armed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let mut server = std::net::TcpStream::connect(upstream).unwrap();
                let (mut client_in, mut server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
                let cutting = cutting.clone();
                std::thread::spawn(move || {
                    let mut buffer = vec![0u8; 64 << 10];
                    while let Ok(read) = server.read(&mut buffer) {
                        let chunk = &buffer[..read];
                        let acknowledges_commit =
                            chunk.windows(7).any(|window| window == b"COMMIT\0");
                        if read == 0
                            || (acknowledges_commit
                                && cutting.swap(false, std::sync::atomic::Ordering::SeqCst))
                        {
                            let _ = client.shutdown(std::net::Shutdown::Both);
                            let _ = server.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        if client.write_all(chunk).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        CommitCutter { address, armed }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_whose_acknowledgement_was_lost_is_recognised_not_repeated() {
    let Some(url) = database() else { return };
    let (host_and_port, name) = url
        .trim_start_matches("postgres://host@")
        .split_once('/')
        .expect("the test database's URL");
    let cutter = CommitCutter::in_front_of(host_and_port.parse().unwrap());
    let store =
        PostgresStore::connect(&format!("postgres://host@{}/{name}", cutter.address)).unwrap();
    store
        .append("ep", 1, vec![event("ExecutionStarted", 1)])
        .await
        .unwrap();
    cutter
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let stored = store
        .append(
            "ep",
            2,
            vec![event("StageStarted", 2), event("StageCompleted", 3)],
        )
        .await
        .expect("the committed append is recognised when tried again");
    assert!(
        !cutter.armed.load(std::sync::atomic::Ordering::SeqCst),
        "the acknowledgement of the commit should have been cut"
    );
    assert_eq!(
        stored
            .iter()
            .map(|event| event.sequence)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    let events = store.read("ep").unwrap();
    assert_eq!(
        events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect::<Vec<_>>(),
        ["ExecutionStarted", "StageStarted", "StageCompleted"],
        "written once"
    );
}
