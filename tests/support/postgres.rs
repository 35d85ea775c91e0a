//! A real PostgreSQL server for the tests, from the machine's PostgreSQL packages: `initdb` and
//! `pg_ctl` in a temporary directory, run as the unprivileged `postgres` user when the tests
//! run as root (PostgreSQL refuses to run as root). One server per test binary, started on
//! first use, each test in a database of its own; a test that restarts or stops PostgreSQL
//! starts a server of its own. Without PostgreSQL installed the tests that need it fail under
//! CI (`CI` set: `.ci/run` installs it) and are skipped with a note on a developer's machine.

use std::cell::Cell;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which database a test's sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

thread_local! {
    /// The store the sandboxes of the test running on this thread use.
    static STORE: Cell<Store> = const { Cell::new(Store::Sqlite) };
}

/// The store sandboxes created on this thread use.
pub fn current_store() -> Store {
    STORE.with(Cell::get)
}

/// Runs `test` with every sandbox it creates on `store`; on PostgreSQL only when it is
/// installed (a failure under CI when it is not).
pub fn on_store(store: Store, test: fn()) {
    if store == Store::Postgres && shared().is_none() {
        return;
    }
    STORE.with(|current| current.set(store));
    test();
}

/// Generates, for each named test function, a `#[test]` on SQLite (in `mod sqlite`) and one on
/// PostgreSQL (in `mod postgres`): the one suite over both stores.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $test() {
                $crate::support::postgres::on_store($crate::support::postgres::Store::Sqlite, super::$test)
            })+
        }
        mod postgres {
            $(#[test]
            fn $test() {
                $crate::support::postgres::on_store($crate::support::postgres::Store::Postgres, super::$test)
            })+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

/// A PostgreSQL server of the tests'.
pub struct Postgres {
    directory: PathBuf,
    port: u16,
    binaries: PathBuf,
    stop_on_drop: bool,
    /// Whether commits wait for the disk (fsync on): off for tests, on for benchmarks.
    durable: bool,
}

/// The test binary's shared server, started on first use; `None` (after saying so) when
/// PostgreSQL is not installed and this is not CI.
pub fn shared() -> Option<&'static Postgres> {
    static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let mut server = Postgres::start_if_installed()?;
            server.stop_on_drop = false;
            server.stop_when_tests_end();
            Some(server)
        })
        .as_ref()
}

/// A fresh database on the shared server; panics under CI when PostgreSQL is missing.
pub fn fresh_database() -> String {
    shared()
        .expect("PostgreSQL is not installed: install the `postgresql` package")
        .new_database()
}

impl Postgres {
    /// A server of its own (stopped when dropped), for a test that restarts it; `None` when
    /// PostgreSQL is not installed and this is not CI.
    pub fn start_if_installed() -> Option<Postgres> {
        Postgres::start_with(false)
    }

    /// A server of its own whose commits wait for the disk (`fsync` on), as in production:
    /// for benchmarks.
    pub fn start_durable() -> Option<Postgres> {
        Postgres::start_with(true)
    }

    fn start_with(durable: bool) -> Option<Postgres> {
        let Some(binaries) = binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is not installed (no initdb under /usr/lib/postgresql): `.ci/run` installs the `postgresql` package"
            );
            eprintln!(
                "note: PostgreSQL is not installed; skipping the PostgreSQL part of this test"
            );
            return None;
        };
        let directory = tempfile::Builder::new()
            .prefix("host-postgres-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        let port = free_port();
        let server = Postgres {
            directory,
            port,
            binaries,
            stop_on_drop: true,
            durable,
        };
        if as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.directory)
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "cannot give the data directory to postgres"
            );
        }
        server.pg(
            "initdb",
            &[
                "-D",
                &server.data().display().to_string(),
                "--auth=trust",
                "-U",
                "host",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.start();
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.directory.join("data")
    }

    /// Starts (or starts again) the server and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            self.port,
            self.directory.display(),
            if self.durable { "on" } else { "off" }
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &self.directory.join("server.log").display().to_string(),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once, as a crash or `kill -9` of PostgreSQL would.
    pub fn stop(&self) {
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// A new, empty database; its URL.
    pub fn new_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // On a thread of its own: the blocking client cannot run inside an async test's runtime.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                self.client("postgres")
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("database is created")
            });
        });
        self.url(&name)
    }

    /// The process id of the server's postmaster.
    pub fn postmaster_pid(&self) -> u32 {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("the server is running")
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .expect("postmaster.pid starts with the pid")
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://host@127.0.0.1:{}/{database}", self.port)
    }

    /// A client of `database` on this server.
    pub fn client(&self, database: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(database), postgres::NoTls)
            .expect("the test's PostgreSQL accepts connections")
    }

    /// Runs one of PostgreSQL's programs, as the `postgres` user when running as root.
    fn pg(&self, program: &str, arguments: &[&str]) {
        let path = self.binaries.join(program);
        let mut command = if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command
            .args(arguments)
            .stdin(Stdio::null())
            .output()
            .expect("PostgreSQL's programs run");
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The shared server outlives any one test: a watcher stops it and removes its files once
    /// the test process has exited.
    fn stop_when_tests_end(&self) {
        let stop = if as_root() {
            format!(
                "runuser -u postgres -- {}",
                self.binaries.join("pg_ctl").display()
            )
        } else {
            self.binaries.join("pg_ctl").display().to_string()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {directory}",
            pid = std::process::id(),
            data = self.data().display(),
            directory = self.directory.display()
        );
        // `--fork`: setsid returns at once, leaving the watcher in a session of its own.
        let started = Command::new("setsid")
            .args(["--fork", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the server's watcher starts");
        assert!(started.success(), "the server's watcher did not start");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.stop_on_drop {
            if !std::thread::panicking() {
                self.stop();
            }
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// The directory of `initdb` and `pg_ctl`: the newest version under /usr/lib/postgresql.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}
