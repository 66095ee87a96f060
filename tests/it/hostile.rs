//! Hostile files and planted links: each attack from the security review, reproduced against the
//! real binary. Every one must end in a located error or a clear refusal, exit 1, never a crash,
//! a hang or a write outside the config directory.

use std::path::Path;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use super::engine_support::{example_dir, offline};

/// A guard against hangs and quadratic blow-ups, far above the measured times (see the README's
/// Safety section for the figures); not a speed test.
const GUARD: Duration = Duration::from_secs(30);

/// Run `botform validate FILE` and expect a located error mentioning one of `needles`.
fn refused(name: &str, text: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let started = Instant::now();
    let out = offline()
        .args(["validate", "--format", "json"])
        .arg(&path)
        .timeout(GUARD)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(
        started.elapsed() < GUARD,
        "{name} took {:?}",
        started.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let diags = report["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().any(|d| {
            let message = d["message"].as_str().unwrap_or("");
            needles.iter().any(|n| message.contains(n)) && d["labels"][0]["line"].as_u64().is_some()
        }),
        "{name}: no located {needles:?} error in {report}"
    );
}

#[test]
fn deep_yaml_block_sequences_are_a_located_error_not_a_stack_overflow() {
    // 30 KB of `- - - - ... 1`: overflowed the stack before.
    let text = format!("{}1\n", "- ".repeat(15_000));
    refused("deep.yaml", &text, &["nested more than 64 levels"]);
}

#[test]
fn deep_yaml_flow_and_maps_are_a_located_error() {
    let flow = format!("bots: {}1{}\n", "[".repeat(20_000), "]".repeat(20_000));
    // The YAML scanner has a nesting limit of its own for flow collections; either is fine.
    refused(
        "flow.yaml",
        &flow,
        &["nested more than 64 levels", "recursion limit exceeded"],
    );
    let maps = format!("bots: {}1{}\n", "{a: ".repeat(5_000), "}".repeat(5_000));
    refused(
        "maps.yaml",
        &maps,
        &["nested more than 64 levels", "recursion limit exceeded"],
    );
}

#[test]
fn deep_toml_is_a_located_error() {
    let inline = format!("x = {}1{}\n", "[".repeat(70), "]".repeat(70));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deep.toml"), &inline).unwrap();
    offline()
        .args(["validate"])
        .arg(dir.path())
        .timeout(GUARD)
        .assert()
        .code(1);
    let shallow_enough = format!("x = {}1{}\n", "[".repeat(66), "]".repeat(66));
    refused(
        "deep2.toml",
        &shallow_enough,
        &["nested more than 64 levels"],
    );
}

#[test]
fn a_yaml_alias_bomb_is_one_located_error() {
    // "Billion laughs" in 530 bytes: grew past 7.8 GB before.
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for name in names {
        text.push_str(&format!(
            "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = name;
    }
    refused("bomb.yaml", &text, &["aliases expand to more than"]);
}

#[test]
fn long_lines_and_wide_maps_parse_in_linear_time() {
    // A 160 KB one-line list took 12 s and an 80k-key map 21 s (quadratic). Both are valid YAML
    // that is not a valid config: they must come back quickly with the config's own error.
    let list = format!(
        "blacklist:\n  pairs: [{}]\n",
        (0..20_000)
            .map(|i| format!("P{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    refused("list.yaml", &list, &[""]);
    let map: String = (0..80_000).map(|i| format!("k{i}: 1\n")).collect();
    refused("map.yaml", &map, &["unknown"]);
}

#[cfg(unix)]
#[test]
fn discovery_survives_link_cycles_fifos_and_device_links() {
    let dir = example_dir();
    let d = dir.path();
    // Two `-> .` links made discovery exponential; a FIFO hung it; /dev/zero read until OOM.
    std::os::unix::fs::symlink(".", d.join("loop1")).unwrap();
    std::os::unix::fs::symlink(".", d.join("loop2")).unwrap();
    let fifo = std::ffi::CString::new(d.join("fifo.toml").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.yaml")).unwrap();
    offline()
        .arg("validate")
        .arg(d)
        .timeout(GUARD)
        .assert()
        .success();
}

#[test]
fn an_oversized_config_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(5 * 1024 * 1024).unwrap();
    offline()
        .arg("validate")
        .arg(&path)
        .timeout(GUARD)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("over the 4194304")
                .and(predicate::str::contains("limit for config text")),
        );
}

#[cfg(unix)]
fn plant(link: &Path, victim: &Path) {
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::os::unix::fs::symlink(victim, link).unwrap();
}

#[cfg(unix)]
#[test]
fn plan_out_never_writes_through_a_planted_link() {
    let dir = example_dir();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("plan.json");
    // The old code wrote `<out>.tmp` and then renamed it; a link there, and at the plan itself.
    plant(&dir.path().join("plan.tmp"), &victim);
    plant(&out, &victim);
    offline()
        .arg("plan")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .timeout(GUARD)
        .assert()
        .code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(saved.contains("plan_mac"));
}

#[test]
fn a_config_of_more_than_twenty_thousand_bots_is_one_located_error() {
    let bots: String = (0..20_001).map(|i| format!("  - name: b{i}\n")).collect();
    refused(
        "many.yaml",
        &format!("bots:\n{bots}"),
        &["at most 20000 bots"],
    );
}

/// Run `botform ARGS FILE` with its address space capped at 1 GiB (the attack below grew past
/// 7.8 GB before), and return its exit code and stdout.
fn capped(args: &[&str], file: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_botform"))
        .args(args)
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn aliases_to_a_long_string_are_bounded_by_bytes_not_by_nodes() {
    // Before: a scalar counted as one value however long it was. 1 MiB copied 99,000 times
    // (a 1.35 MB file) took `validate` past 7.8 GB; 1,000 bytes copied 40,000 times (160 KB)
    // took 1.3 GB, and `fmt --check` on it 5.1 GB.
    let dir = tempfile::tempdir().unwrap();
    for (name, size, copies) in [("mib.yaml", 1 << 20, 99_000), ("kb.yaml", 1_000, 40_000)] {
        let path = dir.path().join(name);
        let aliases = vec!["*s"; copies].join(", ");
        std::fs::write(
            &path,
            format!("a: &s {}\nb: [{aliases}]\n", "x".repeat(size)),
        )
        .unwrap();
        let started = Instant::now();
        for args in [
            &["validate", "--format", "json"][..],
            &["fmt", "--check"][..],
        ] {
            let (code, said) = capped(args, &path);
            assert_eq!(code, Some(1), "{args:?} {name}: {said:.500}");
            assert!(
                said.contains("aliases expand to more than 4 MiB"),
                "{args:?} {name}: one located error: {said:.500}"
            );
        }
        assert!(
            started.elapsed() < GUARD,
            "{name} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_pair_that_would_leave_the_cache_is_refused_before_any_download() {
    // Before: `--candles-from` downloaded before the config was checked, and the pair named the
    // cache file: `USDT_BTC/../../x` wrote outside the cache.
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        "[accounts.main]\nname = \"Binance Spot\"\n\n[[bots]]\nname = \"b\"\naccount = \"main\"\npairs = [\"USDT_BTC/../../escape\"]\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 1\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit = 1\ntake_profit_type = \"total\"\n",
    )
    .unwrap();
    // An exchange that answers nothing: were a download tried, it would say so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    super::botform()
        .env("BOTFORM_BINANCE_URL", &url)
        .env("BOTFORM_CACHE_DIR", cache.path().join("candles"))
        .arg("backtest")
        .arg(dir.path())
        .args(["--candles-from", "binance", "--from", "2025-01-01"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing was downloaded"))
        .stderr(predicate::str::contains("download failed").not());
    let leaked: Vec<_> = walk_files(cache.path());
    assert!(leaked.is_empty(), "nothing written: {leaked:?}");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk_files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_cr_only_file_is_located_alike_in_human_and_json_output() {
    // Before: YAML read a lone CR as a line break and the locations did not: every error of a
    // CR-only file sat on "line 1", column 121 and beyond, in both outputs.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bots.yaml"),
        "accounts:\r  main:\r    name: Binance Spot\rbots:\r  - name: x\r    account: main\r    pairs: [USDT_BTC]\r    take_profit: abc\r",
    )
    .unwrap();
    let json = offline()
        .arg("validate")
        .arg(dir.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let wrong_type = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "invalid-type")
        .unwrap()
        .clone();
    assert_eq!(
        (wrong_type["line"].as_u64(), wrong_type["column"].as_u64()),
        (Some(8), Some(18))
    );
    offline()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bots.yaml:8:18"))
        .stdout(predicate::str::contains("8 │     take_profit: abc"));
}
