//! The sandbox guarantees, through the real host and a real hostile component: a plugin that
//! loops, hoards memory, reaches for files or the environment, traps or returns garbage fails
//! only its own call, with the matching error, and the host serves the next call.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use host::plugin::{
    CacheOutcome, CallError, DirectoryGrant, HostConfig, InstanceAllocation, LoadError,
    PluginGrants, PluginHost, PluginHostSettings, Service, llm,
};

const HOSTILE_WASM: &str = env!("TEST_COMPONENT_HOSTILE_WASM");

/// A plugins directory holding the hostile component as `hostile.wasm`, and a host whose
/// grants for it are `grants`.
fn host_with(directory: &Path, grants: PluginGrants) -> PluginHost {
    let plugins_dir = directory.join("plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::copy(HOSTILE_WASM, plugins_dir.join("hostile.wasm")).unwrap();
    let config = HostConfig {
        plugins: BTreeMap::from([("hostile".to_string(), grants)]),
        ..HostConfig::default()
    };
    PluginHost::new(PluginHostSettings {
        plugins_dir,
        compile_cache_dir: Some(directory.join("cache")),
        allocation: InstanceAllocation::pooling_for(&config),
        config,
    })
    .unwrap()
}

fn tight_grants() -> PluginGrants {
    PluginGrants {
        memory_limit_mib: 64,
        call_timeout_secs: 1.0,
        ..PluginGrants::default()
    }
}

fn request(prompt: &str, json_schema: Option<&str>) -> llm::GenerateRequest {
    llm::GenerateRequest {
        idempotency_key: "test-key".into(),
        model: None,
        messages: vec![llm::Message {
            role: llm::Role::User,
            content: prompt.into(),
        }],
        json_schema: json_schema.map(str::to_string),
        temperature: None,
        max_tokens: None,
    }
}

async fn ask(host: &PluginHost, prompt: &str) -> Result<String, CallError> {
    let plugin = host.load_for("hostile", Service::Llm).unwrap();
    host.generate_text(&plugin, &request(prompt, None))
        .await
        .map(|response| response.text)
}

/// The host must still answer a well-behaved call after each misbehaviour.
async fn assert_still_serving(host: &PluginHost) {
    assert_eq!(ask(host, "hello").await.unwrap(), "echo: hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let started = Instant::now();
    let error = ask(&host, "loop").await.unwrap_err();
    assert!(
        matches!(error, CallError::DeadlineExceeded { limit, .. } if limit == Duration::from_secs(1)),
        "{error}"
    );
    assert!(error.is_retryable());
    // Generous bound: the point is that the call ends, not how fast.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_hits_the_memory_cap() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let error = ask(&host, "allocate").await.unwrap_err();
    match &error {
        CallError::MemoryLimitExceeded {
            limit_mib,
            requested_mib,
            ..
        } => {
            assert_eq!(*limit_mib, 64);
            assert!(*requested_mib > 64, "{error}");
        }
        other => panic!("expected a memory-limit error, got {other}"),
    }
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("memory limit of 64 MiB"),
        "{error}"
    );
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_environment_are_out_of_reach_by_default() {
    let directory = tempfile::tempdir().unwrap();
    let secret_file = directory.path().join("secret.txt");
    std::fs::write(&secret_file, "top secret").unwrap();
    let host = host_with(directory.path(), tight_grants());

    for prompt in [
        format!("read-file {}", secret_file.display()),
        "read-file /etc/passwd".to_string(),
        "read-env PATH".to_string(),
        "read-env HOME".to_string(),
    ] {
        let error = ask(&host, &prompt).await.unwrap_err();
        match &error {
            CallError::Provider { error, .. } => {
                assert!(
                    error.message.starts_with("cannot read"),
                    "{prompt}: {error:?}"
                )
            }
            other => panic!("{prompt}: expected the plugin to report a refusal, got {other}"),
        }
    }
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_is_out_of_reach() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let error = ask(&host, &format!("connect {address}")).await.unwrap_err();
    match &error {
        CallError::Provider { error, .. } => {
            assert!(error.message.starts_with("cannot connect"), "{error:?}");
            // Refused by the sandbox, not merely unimplemented in the guest.
            assert!(
                !error.message.to_lowercase().contains("unsupported"),
                "{error:?}"
            );
        }
        other => panic!("expected the plugin to report a refusal, got {other}"),
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the plugin reached the listener"
    );
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_directories_and_variables_are_reachable() {
    let directory = tempfile::tempdir().unwrap();
    let shared = directory.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("note.txt"), "granted content").unwrap();
    let grants = PluginGrants {
        settings: vec!["PATH".into()],
        directories: vec![DirectoryGrant {
            host: shared,
            guest: "/shared".into(),
            writable: false,
        }],
        ..tight_grants()
    };
    let host = host_with(directory.path(), grants);
    assert_eq!(
        ask(&host, "read-file /shared/note.txt").await.unwrap(),
        "granted content"
    );
    assert_eq!(
        ask(&host, "read-env PATH").await.unwrap(),
        std::env::var("PATH").unwrap()
    );
    // Only what was granted: other variables stay hidden.
    assert!(ask(&host, "read-env HOME").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_secret_is_readable_but_redacted_from_the_answer() {
    let directory = tempfile::tempdir().unwrap();
    let grants = PluginGrants {
        env: vec!["PATH".into()],
        ..tight_grants()
    };
    let host = host_with(directory.path(), grants);
    // The plugin read the value (the host only redacts what it recognises as the secret).
    assert_eq!(
        ask(&host, "read-env PATH").await.unwrap(),
        "[redacted PATH]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_variable_that_is_unset_is_named() {
    let directory = tempfile::tempdir().unwrap();
    let grants = PluginGrants {
        env: vec!["HOST_TEST_VARIABLE_THAT_IS_NEVER_SET".into()],
        ..tight_grants()
    };
    let host = host_with(directory.path(), grants);
    let error = ask(&host, "hello").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("HOST_TEST_VARIABLE_THAT_IS_NEVER_SET"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_the_call_with_the_panic_message() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let error = ask(&host, "trap").await.unwrap_err();
    assert!(matches!(error, CallError::Trapped { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("hostile plugin panics on purpose"),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_results_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let plugin = host.load_for("hostile", Service::Llm).unwrap();

    let error = host
        .generate_text(&plugin, &request("not-json", Some(r#"{"type":"object"}"#)))
        .await
        .unwrap_err();
    // Text that is not JSON is the model's mistake, worth another attempt; a result that
    // breaks the calling convention is the plugin's bug, which repeats.
    assert!(
        matches!(error, CallError::MalformedAnswer { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("not JSON"), "{error}");
    assert!(error.is_retryable());

    let error = ask(&host, "invalid-utf8").await.unwrap_err();
    assert!(
        matches!(error, CallError::MalformedResult { .. }),
        "{error}"
    );
    assert!(
        error.to_string().to_lowercase().contains("utf-8"),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_calls_in_parallel_do_not_disturb_good_ones() {
    let directory = tempfile::tempdir().unwrap();
    let host = std::sync::Arc::new(host_with(directory.path(), tight_grants()));
    let mut calls = Vec::new();
    for index in 0..12 {
        let host = host.clone();
        let prompt = match index % 4 {
            0 => "loop".to_string(),
            1 => "trap".to_string(),
            2 => "allocate".to_string(),
            _ => format!("hello {index}"),
        };
        calls.push(tokio::spawn(async move {
            (prompt.clone(), ask(&host, &prompt).await)
        }));
    }
    for call in calls {
        let (prompt, outcome) = call.await.unwrap();
        if prompt.starts_with("hello") {
            assert_eq!(outcome.unwrap(), format!("echo: {prompt}"));
        } else {
            assert!(outcome.is_err(), "{prompt} should fail");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_instance_pool_wait_for_a_slot() {
    let directory = tempfile::tempdir().unwrap();
    let plugins_dir = directory.path().join("plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::copy(HOSTILE_WASM, plugins_dir.join("hostile.wasm")).unwrap();
    let host = std::sync::Arc::new(
        PluginHost::new(PluginHostSettings {
            plugins_dir,
            compile_cache_dir: Some(directory.path().join("cache")),
            config: HostConfig::default(),
            allocation: InstanceAllocation::Pooling {
                max_instances: 2,
                max_memory_mib: 64,
            },
        })
        .unwrap(),
    );
    let calls: Vec<_> = (0..16)
        .map(|index| {
            let host = host.clone();
            tokio::spawn(async move { ask(&host, &format!("hello {index}")).await })
        })
        .collect();
    for (index, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), format!("echo: hello {index}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbounded_allocation_is_stopped_without_pooling_too() {
    let directory = tempfile::tempdir().unwrap();
    let plugins_dir = directory.path().join("plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::copy(HOSTILE_WASM, plugins_dir.join("hostile.wasm")).unwrap();
    let host = PluginHost::new(PluginHostSettings {
        plugins_dir,
        compile_cache_dir: Some(directory.path().join("cache")),
        config: HostConfig {
            plugins: BTreeMap::from([("hostile".to_string(), tight_grants())]),
            ..HostConfig::default()
        },
        allocation: InstanceAllocation::OnDemand,
    })
    .unwrap();
    let error = ask(&host, "allocate").await.unwrap_err();
    assert!(
        matches!(error, CallError::MemoryLimitExceeded { limit_mib: 64, .. }),
        "{error}"
    );
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_used_for_the_wrong_service_is_refused_by_name() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let error = host.load_for("hostile", Service::Tts).err().unwrap();
    assert!(matches!(error, LoadError::WrongWorld { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("tts-provider"), "{message}");
    assert!(message.contains("pipeline:services/tts@0.1.0"), "{message}");
    assert!(message.contains("pipeline:services/llm@0.1.0"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_components_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), tight_grants());
    let garbage = directory.path().join("garbage.wasm");
    std::fs::write(&garbage, b"definitely not wasm").unwrap();
    let error = host.load(garbage.to_str().unwrap()).err().unwrap();
    assert!(matches!(error, LoadError::NotAComponent { .. }), "{error}");

    // A core module (the 8-byte empty module) is WebAssembly but not a component.
    let core_module = directory.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap();
    let error = host.load(core_module.to_str().unwrap()).err().unwrap();
    assert!(matches!(error, LoadError::NotAComponent { .. }), "{error}");

    let error = host.load("no-such-plugin").err().unwrap();
    assert!(error.to_string().contains("no-such-plugin"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_code_is_cached_and_a_corrupt_entry_is_replaced() {
    let directory = tempfile::tempdir().unwrap();
    let first = host_with(directory.path(), tight_grants());
    assert_eq!(first.load("hostile").unwrap().cache, CacheOutcome::Compiled);
    drop(first);

    let second = host_with(directory.path(), tight_grants());
    assert_eq!(second.load("hostile").unwrap().cache, CacheOutcome::Hit);
    drop(second);

    let cache_dir = directory.path().join("cache");
    for entry in std::fs::read_dir(&cache_dir).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let third = host_with(directory.path(), tight_grants());
    assert_eq!(third.load("hostile").unwrap().cache, CacheOutcome::Compiled);
    assert_still_serving(&third).await;
}
