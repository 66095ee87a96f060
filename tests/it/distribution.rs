//! What ships botform beyond the binary: the GitHub Action, the Dockerfile and the release
//! workflow. None of them can run here (no Actions runner, no Docker daemon), so each is checked
//! against the product it wraps: every botform command line they hold exists with those flags,
//! every file the image copies exists, and the binary needs nothing the runtime image lacks.

use std::process::Command;

use botform::config::node::{self, Node};
use botform::config::source::{FileId, SourceFile, Syntax};

use super::{botform, root};

fn yaml(path: &str) -> Node {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let file = SourceFile::new(path.into(), Syntax::Yaml, text);
    node::parse(FileId(0), &file).unwrap_or_else(|e| panic!("{path} is not YAML: {e:?}"))
}

/// Every `botform SUB ... --flag` in a shell script names a real command and real flags.
fn check_command_lines(script: &str, origin: &str) {
    for line in script.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("botform ") else {
            continue;
        };
        let sub = rest.split_whitespace().next().unwrap();
        let help = botform().args([sub, "--help"]).output().unwrap();
        assert!(
            help.status.success(),
            "{origin}: `botform {sub}` is no command"
        );
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in rest.split_whitespace().filter(|w| w.starts_with("--")) {
            let flag = flag.trim_end_matches(['"', ')', ';']);
            assert!(
                help.contains(flag),
                "{origin}: `botform {sub}` has no {flag}"
            );
        }
    }
}

#[test]
fn the_github_action_runs_commands_that_exist() {
    let action = yaml("action.yml").to_json();
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().unwrap();
    let mut scripts = 0;
    for step in steps {
        if let Some(run) = step["run"].as_str() {
            scripts += 1;
            assert_eq!(step["shell"], "bash", "{step}");
            check_command_lines(run, "action.yml");
        }
    }
    assert!(scripts >= 5);
    let all = serde_json::to_string(steps).unwrap();
    // The comment is found again by the marker the markdown plan starts with.
    assert!(all.contains(botform::engine::markdown::MARKER));
    assert!(all.contains("--format markdown") && all.contains("--format github"));
    // The README's recipe uses the action.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("uses: your-org/botform@"));
}

#[test]
fn the_dockerfile_copies_what_exists_and_the_binary_needs_only_glibc() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(
                root().join(source).exists(),
                "Dockerfile copies {source}, which does not exist"
            );
        }
    }
    // The build image's Rust is the one Cargo.toml asks for.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(dockerfile.contains(&format!("FROM rust:{rust_version}-")));
    // The runtime stage is Debian slim with CA certificates only: the binary must need no
    // library beyond glibc's (no OpenSSL: rustls; no libsqlite3: bundled).
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_botform"))
        .output();
    let has_ldd = ldd.as_ref().is_ok_and(|o| o.status.success());
    if !super::required(
        "ldd (glibc's, to list the binary's libraries)",
        has_ldd,
        "apt-get install libc-bin",
    ) {
        return;
    }
    let ldd = ldd.unwrap();
    let libraries = String::from_utf8_lossy(&ldd.stdout);
    for line in libraries.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let allowed = [
            "linux-vdso",
            "libc.so",
            "libm.so",
            "libgcc_s",
            "ld-linux",
            "libdl",
            "libpthread",
            "librt",
        ];
        assert!(
            allowed.iter().any(|a| name.starts_with(a)) || name.starts_with('/'),
            "the binary needs {name}, which debian:bookworm-slim does not have:\n{libraries}"
        );
    }
}

#[test]
fn the_release_workflow_builds_for_linux_macos_and_windows() {
    let workflow = yaml(".github/workflows/release.yml").to_json();
    let targets: Vec<String> = workflow["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect();
    for os in ["linux", "apple-darwin", "windows"] {
        assert!(targets.iter().any(|t| t.contains(os)), "{os}: {targets:?}");
    }
    let text = serde_json::to_string(&workflow).unwrap();
    assert!(text.contains("\"bin\":\"botform\""));
    assert!(text.contains("LICENSE-MIT") && root().join("LICENSE-MIT").exists());
    assert!(root().join("LICENSE-APACHE").exists());
}

#[test]
fn ci_runs_the_ci_script_on_every_push_and_pull_request() {
    let workflow = yaml(".github/workflows/ci.yml").to_json();
    let on = &workflow["on"];
    assert!(
        on.get("push").is_some() && on.get("pull_request").is_some(),
        "{on}"
    );
    let text = serde_json::to_string(&workflow["jobs"]).unwrap();
    assert!(text.contains("bash .ci/run"), "{text}");
}

/// Runner labels GitHub has retired: a job on one of them never starts.
const RETIRED_RUNNERS: [&str; 6] = [
    "macos-12",
    "macos-13",
    "ubuntu-18.04",
    "ubuntu-20.04",
    "windows-2019",
    "macos-11",
];

#[test]
fn releases_run_the_tests_first_on_current_runners() {
    let workflow = yaml(".github/workflows/release.yml").to_json();
    let jobs = &workflow["jobs"];
    let test = serde_json::to_string(&jobs["test"]).unwrap();
    assert!(test.contains("bash .ci/run"), "{test}");
    assert_eq!(jobs["create-release"]["needs"], "test");
    assert_eq!(jobs["binaries"]["needs"], "create-release");
    let text = serde_json::to_string(&workflow).unwrap();
    for retired in RETIRED_RUNNERS {
        assert!(
            !text.contains(&format!("\"{retired}\"")),
            "{retired} is retired"
        );
    }
}

/// The Action's step named `name`, as a bash script.
fn action_script(name: &str) -> String {
    let action = yaml("action.yml").to_json();
    action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step `{name}`"))
        .to_string()
}

#[test]
fn the_action_fails_on_an_empty_secret_and_says_so() {
    let script = action_script("Check the 3Commas key");
    let run = |key: Option<&str>, secret: Option<&str>| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(&script);
        for var in super::engine_support::THREECOMMAS_VARS {
            cmd.env_remove(var);
        }
        if let Some(k) = key {
            cmd.env("THREECOMMAS_API_KEY", k);
        }
        if let Some(s) = secret {
            cmd.env("THREECOMMAS_API_SECRET", s);
        }
        cmd.output().unwrap()
    };
    // A misnamed secret arrives as an empty string; a fork's pull request as nothing at all.
    for (key, secret) in [(Some(""), Some("s")), (None, None), (Some("k"), Some(""))] {
        let out = run(key, secret);
        assert!(!out.status.success(), "{key:?} {secret:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("::error") && said.contains("is empty or not set"),
            "{said}"
        );
    }
    assert!(run(Some("k"), Some("s")).status.success());
}

#[test]
fn the_action_downloads_the_checked_release_binary_and_builds_only_as_a_fallback() {
    let script = action_script("Install botform");
    let download = script
        .find("releases/download")
        .expect("a release download");
    let check = script.find("sha256").expect("a checksum check");
    let build = script
        .find("cargo install")
        .expect("a source build fallback");
    assert!(download < check && check < build, "{script}");
    assert!(script.contains("checksum mismatch"), "{script}");
}

#[test]
fn the_dockerfile_builds_dependencies_in_a_layer_of_their_own() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let manifests = dockerfile.find("COPY Cargo.toml Cargo.lock").unwrap();
    let deps = dockerfile[manifests..].find("cargo build").unwrap() + manifests;
    let sources = dockerfile.find("COPY src src").unwrap();
    assert!(
        manifests < deps && deps < sources,
        "dependencies must build before the sources are copied"
    );
}
