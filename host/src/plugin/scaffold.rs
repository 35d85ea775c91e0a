//! New plugin projects, for `host plugins new`: the templates of `plugins/templates/` (one per
//! service and language, each built by its own `build.sh`), the WIT files, for the Rust TTS
//! and mixer the `tts-kit` crate, and a README saying how to build, grant, check and use the plugin. Every
//! file is compiled into the host, so a project can be started anywhere, with no checkout.

use std::path::{Path, PathBuf};

use super::service::Service;

/// A language plugins are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Rust, Language::Python, Language::JavaScript];

    /// The name on the command line and in template folders: `rust`, `python`, `js`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
        }
    }

    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|language| language.name() == name)
    }

    /// What builds a component from this language, as the README tells an author to install it.
    fn toolchain(self) -> &'static str {
        match self {
            Language::Rust => "the Rust target: `rustup target add wasm32-wasip2`",
            Language::Python => "componentize-py (PyPI): `pip install componentize-py==0.25.1`",
            Language::JavaScript => {
                "componentize-js (npm): `npm install -g @bytecodealliance/componentize-js@0.23.0`"
            }
        }
    }
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a usable plugin name: use lowercase letters, digits and dashes, starting with a letter"
    )]
    InvalidName(String),
    #[error("{0} exists and is not empty; choose another --directory")]
    DirectoryNotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One file of a new project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// Relative to the project's folder.
    pub path: String,
    pub contents: String,
    /// Scripts are made executable.
    pub executable: bool,
}

/// A template's own files: its folder under `plugins/templates/` and (path, contents) pairs.
struct Template {
    folder: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// The variables its grants should name, in `config.toml` terms: secrets, then settings.
    secrets: &'static [&'static str],
    settings: &'static [&'static str],
    /// Whether it reaches a server, so its grants need `allowed_hosts`.
    networked: bool,
}

macro_rules! template_file {
    ($folder:literal, $file:literal) => {
        (
            $file,
            include_str!(concat!("../../../plugins/templates/", $folder, "/", $file)),
        )
    };
}

const LLM_SECRETS: &[&str] = &["LLM_API_KEY"];
const LLM_SETTINGS: &[&str] = &[
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_INPUT_USD_PER_MILLION",
    "LLM_OUTPUT_USD_PER_MILLION",
];
const TTS_SETTINGS: &[&str] = &["TTS_USD_PER_MILLION_CHARACTERS"];
const IMAGE_SETTINGS: &[&str] = &["IMAGE_USD_PER_IMAGE"];
/// The `tts-kit` crate, copied into the Rust projects that use it.
const TTS_KIT_FILES: [(&str, &str); 4] = [
    (
        "tts-kit/Cargo.toml",
        include_str!("../../../plugins/tts-kit/Cargo.toml"),
    ),
    (
        "tts-kit/src/lib.rs",
        include_str!("../../../plugins/tts-kit/src/lib.rs"),
    ),
    (
        "tts-kit/src/billing.rs",
        include_str!("../../../plugins/tts-kit/src/billing.rs"),
    ),
    (
        "tts-kit/src/wav.rs",
        include_str!("../../../plugins/tts-kit/src/wav.rs"),
    ),
];

const RUST_LLM: Template = Template {
    folder: "rust-llm",
    files: &[
        template_file!("rust-llm", "Cargo.toml"),
        template_file!("rust-llm", "build.sh"),
        template_file!("rust-llm", "src/lib.rs"),
    ],
    secrets: LLM_SECRETS,
    settings: LLM_SETTINGS,
    networked: true,
};
const PYTHON_LLM: Template = Template {
    folder: "python-llm",
    files: &[
        template_file!("python-llm", "app.py"),
        template_file!("python-llm", "build.sh"),
    ],
    secrets: LLM_SECRETS,
    settings: LLM_SETTINGS,
    networked: true,
};
const JS_LLM: Template = Template {
    folder: "js-llm",
    files: &[
        template_file!("js-llm", "plugin.js"),
        template_file!("js-llm", "build.sh"),
    ],
    secrets: LLM_SECRETS,
    settings: LLM_SETTINGS,
    networked: true,
};
const RUST_TTS: Template = Template {
    folder: "rust-tts",
    files: &[
        template_file!("rust-tts", "Cargo.toml"),
        template_file!("rust-tts", "build.sh"),
        template_file!("rust-tts", "src/lib.rs"),
        TTS_KIT_FILES[0],
        TTS_KIT_FILES[1],
        TTS_KIT_FILES[2],
        TTS_KIT_FILES[3],
    ],
    secrets: &[],
    settings: TTS_SETTINGS,
    networked: false,
};
const PYTHON_TTS: Template = Template {
    folder: "python-tts",
    files: &[
        template_file!("python-tts", "app.py"),
        template_file!("python-tts", "build.sh"),
    ],
    secrets: &[],
    settings: TTS_SETTINGS,
    networked: false,
};
const JS_TTS: Template = Template {
    folder: "js-tts",
    files: &[
        template_file!("js-tts", "plugin.js"),
        template_file!("js-tts", "build.sh"),
    ],
    secrets: &[],
    settings: TTS_SETTINGS,
    networked: false,
};
const RUST_MIXER: Template = Template {
    folder: "rust-mixer",
    files: &[
        template_file!("rust-mixer", "Cargo.toml"),
        template_file!("rust-mixer", "build.sh"),
        template_file!("rust-mixer", "src/lib.rs"),
        TTS_KIT_FILES[0],
        TTS_KIT_FILES[1],
        TTS_KIT_FILES[2],
        TTS_KIT_FILES[3],
    ],
    secrets: &[],
    settings: &[],
    networked: false,
};
const PYTHON_MIXER: Template = Template {
    folder: "python-mixer",
    files: &[
        template_file!("python-mixer", "app.py"),
        template_file!("python-mixer", "build.sh"),
    ],
    secrets: &[],
    settings: &[],
    networked: false,
};
const JS_MIXER: Template = Template {
    folder: "js-mixer",
    files: &[
        template_file!("js-mixer", "plugin.js"),
        template_file!("js-mixer", "build.sh"),
    ],
    secrets: &[],
    settings: &[],
    networked: false,
};
const RUST_IMAGE: Template = Template {
    folder: "rust-image",
    files: &[
        template_file!("rust-image", "Cargo.toml"),
        template_file!("rust-image", "build.sh"),
        template_file!("rust-image", "src/lib.rs"),
    ],
    secrets: &[],
    settings: IMAGE_SETTINGS,
    networked: false,
};
const PYTHON_IMAGE: Template = Template {
    folder: "python-image",
    files: &[
        template_file!("python-image", "app.py"),
        template_file!("python-image", "build.sh"),
    ],
    secrets: &[],
    settings: IMAGE_SETTINGS,
    networked: false,
};
const JS_IMAGE: Template = Template {
    folder: "js-image",
    files: &[
        template_file!("js-image", "plugin.js"),
        template_file!("js-image", "build.sh"),
    ],
    secrets: &[],
    settings: IMAGE_SETTINGS,
    networked: false,
};

/// The template of `service` in `language`: there is one for every pair.
fn template(service: Service, language: Language) -> &'static Template {
    match (service, language) {
        (Service::Llm, Language::Rust) => &RUST_LLM,
        (Service::Llm, Language::Python) => &PYTHON_LLM,
        (Service::Llm, Language::JavaScript) => &JS_LLM,
        (Service::Tts, Language::Rust) => &RUST_TTS,
        (Service::Tts, Language::Python) => &PYTHON_TTS,
        (Service::Tts, Language::JavaScript) => &JS_TTS,
        (Service::Mixer, Language::Rust) => &RUST_MIXER,
        (Service::Mixer, Language::Python) => &PYTHON_MIXER,
        (Service::Mixer, Language::JavaScript) => &JS_MIXER,
        (Service::Image, Language::Rust) => &RUST_IMAGE,
        (Service::Image, Language::Python) => &PYTHON_IMAGE,
        (Service::Image, Language::JavaScript) => &JS_IMAGE,
    }
}

/// The repository's `wit/`, which every project carries (the toolchains read it at build time).
const WIT_FILES: &[(&str, &str)] = &[
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    ("wit/llm.wit", include_str!("../../../wit/llm.wit")),
    ("wit/tts.wit", include_str!("../../../wit/tts.wit")),
    ("wit/mixer.wit", include_str!("../../../wit/mixer.wit")),
    ("wit/image.wit", include_str!("../../../wit/image.wit")),
    ("wit/worlds.wit", include_str!("../../../wit/worlds.wit")),
    (
        "wit/deps/cli.wit",
        include_str!("../../../wit/deps/cli.wit"),
    ),
    (
        "wit/deps/clocks.wit",
        include_str!("../../../wit/deps/clocks.wit"),
    ),
    (
        "wit/deps/filesystem.wit",
        include_str!("../../../wit/deps/filesystem.wit"),
    ),
    (
        "wit/deps/http.wit",
        include_str!("../../../wit/deps/http.wit"),
    ),
    ("wit/deps/io.wit", include_str!("../../../wit/deps/io.wit")),
    (
        "wit/deps/random.wit",
        include_str!("../../../wit/deps/random.wit"),
    ),
    (
        "wit/deps/sockets.wit",
        include_str!("../../../wit/deps/sockets.wit"),
    ),
];

/// Every file of a new `name` project for `service` in `language`.
pub fn project_files(
    name: &str,
    service: Service,
    language: Language,
) -> Result<Vec<ProjectFile>, ScaffoldError> {
    let valid_name = name.len() <= 64
        && name.starts_with(|first: char| first.is_ascii_lowercase())
        && name.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
        });
    if !valid_name {
        return Err(ScaffoldError::InvalidName(name.to_string()));
    }
    let template = template(service, language);
    // The template's own name (its output file, its crate) becomes the plugin's.
    let rename = |text: &str| {
        text.replace(template.folder, name)
            .replace(&template.folder.replace('-', "_"), &name.replace('-', "_"))
    };
    let mut files: Vec<ProjectFile> = template
        .files
        .iter()
        .chain(WIT_FILES)
        .map(|(path, contents)| ProjectFile {
            path: path.to_string(),
            contents: if path.starts_with("wit/") || path.starts_with("tts-kit/") {
                contents.to_string()
            } else {
                rename(contents)
            },
            executable: path.ends_with(".sh"),
        })
        .collect();
    files.push(ProjectFile {
        path: "README.md".into(),
        contents: readme(name, service, language, template),
        executable: false,
    });
    if language != Language::Rust {
        files.push(ProjectFile {
            path: ".gitignore".into(),
            contents: "*.wasm\n__pycache__/\nnode_modules/\n".into(),
            executable: false,
        });
    } else {
        files.push(ProjectFile {
            path: ".gitignore".into(),
            contents: "*.wasm\n/target\nCargo.lock\n".into(),
            executable: false,
        });
    }
    Ok(files)
}

/// Writes `files` under `directory`, which must not exist or be empty.
pub fn write_project(directory: &Path, files: &[ProjectFile]) -> Result<(), ScaffoldError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if directory.exists() {
        let mut entries = std::fs::read_dir(directory).map_err(io(directory))?;
        if entries.next().is_some() {
            return Err(ScaffoldError::DirectoryNotEmpty(directory.to_path_buf()));
        }
    }
    for file in files {
        let path = directory.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &file.contents).map_err(io(&path))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(io(&path))?;
        }
    }
    Ok(())
}

fn readme(name: &str, service: Service, language: Language, template: &Template) -> String {
    let mut grants = format!("[plugins.{name}]\n");
    if !template.secrets.is_empty() {
        grants.push_str(&format!("env = {:?}\n", template.secrets));
    }
    if !template.settings.is_empty() {
        grants.push_str(&format!("settings = {:?}\n", template.settings));
    }
    if template.networked {
        grants.push_str("allowed_hosts = [\"http://127.0.0.1:11434\"]   # the server's origin\n");
    }
    let source = match language {
        Language::Rust => "src/lib.rs",
        Language::Python => "app.py",
        Language::JavaScript => "plugin.js",
    };
    format!(
        "# {name}\n\n\
         A {service} plugin in {language}, made by `host plugins new`. It implements the \
         `{world}` world of `wit/`; `{source}` says what it does and which settings it reads.\n\n\
         ## Build\n\n\
         Install {toolchain}, then:\n\n\
         ```sh\n./build.sh          # writes {name}.wasm\n```\n\n\
         ## Check, drop in, grant\n\n\
         ```sh\n\
         host plugins check ./{name}.wasm     # the world, a sample call, its checks, usage, cost, timings\n\
         cp {name}.wasm <data-dir>/plugins/\n\
         ```\n\n\
         A plugin gets nothing it is not granted. In `<data-dir>/config.toml`:\n\n\
         ```toml\n{grants}```\n\n\
         Then `host plugins check {name}` again, and use it in a run:\n\n\
         ```sh\nhost run workflows/podcast.toml --input topic=\"tea\" --provider {service}={name}\n```\n\n\
         `plugins/README.md` in the host's repository explains the rules every plugin keeps \
         (honest `retryable` errors, the idempotency key, results the host checks).\n",
        language = match language {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        },
        world = service.world(),
        toolchain = language.toolchain(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_pair() -> impl Iterator<Item = (Service, Language)> {
        Service::ALL.into_iter().flat_map(|service| {
            Language::ALL
                .into_iter()
                .map(move |language| (service, language))
        })
    }

    #[test]
    fn every_template_is_named_after_the_new_plugin() {
        for (service, language) in every_pair() {
            let files = project_files("my-plugin", service, language).expect("a template");
            let build = files.iter().find(|file| file.path == "build.sh").unwrap();
            assert!(build.executable);
            assert!(
                build.contents.contains("my-plugin.wasm"),
                "{}",
                build.contents
            );
            assert!(files.iter().any(|file| file.path == "wit/worlds.wit"));
            assert!(files.iter().any(|file| file.path == "README.md"));
        }
    }

    /// A file added to a template folder but not compiled in would be missing from every
    /// project made from it.
    #[test]
    fn every_file_of_every_template_folder_is_compiled_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/templates");
        let mut folders: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        folders.sort();
        let mut known: Vec<&str> = every_pair()
            .map(|(service, language)| template(service, language).folder)
            .collect();
        known.sort();
        assert_eq!(folders, known);
        for (service, language) in every_pair() {
            let template = template(service, language);
            let mut on_disk = Vec::new();
            list_files(&root.join(template.folder), "", &mut on_disk);
            on_disk.sort();
            let mut compiled: Vec<&str> = template
                .files
                .iter()
                .map(|(path, _)| *path)
                .filter(|path| !path.starts_with("tts-kit/"))
                .collect();
            compiled.sort();
            assert_eq!(on_disk, compiled, "{}", template.folder);
        }
    }

    /// Files under `folder`, leaving out the links (`wit`, `tts-kit`) that point at the
    /// repository's own copies and what a build in place leaves behind.
    fn list_files(folder: &Path, prefix: &str, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let built = ["target", "Cargo.lock", "__pycache__", "node_modules"]
                .contains(&name.as_str())
                || name.ends_with(".wasm");
            if built {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                list_files(&entry.path(), &format!("{name}/"), found);
            } else if kind.is_file() {
                found.push(name);
            }
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for name in ["My Plugin", "9lives", "", "a_b", &"x".repeat(65)] {
            assert!(
                matches!(
                    project_files(name, Service::Llm, Language::Rust),
                    Err(ScaffoldError::InvalidName(_))
                ),
                "{name:?}"
            );
        }
    }
}
