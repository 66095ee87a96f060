//! The attacks from the security review on apply: two writers at once, prune and thresholds,
//! a deal that starts after the plan, tampered plan files, a re-apply after kill -9, and
//! credentials in the API URL. Each reproduces the attack against the real binary and a real
//! sandbox process.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use super::engine_support::{against, apply, edit, spawn_against};
use super::sandbox::SandboxProcess;

/// A config of `n` nonstop bots named `{prefix} {i}` on the Binance account.
fn bots_file(dir: &Path, prefix: &str, n: usize, extra: &str) {
    let mut text = String::from(
        "[accounts.main]\nname = \"Binance Spot\"\n\n[templates.t]\naccount = \"main\"\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\ntake_profit = 1\n",
    );
    text.push_str(extra);
    for i in 0..n {
        text.push_str(&format!(
            "\n[[bots]]\nname = \"{prefix} {i}\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\n"
        ));
    }
    std::fs::write(dir.join("bots.toml"), text).unwrap();
}

/// Live bot names on the real side, with how many bots carry each.
fn live_names(sandbox: &SandboxProcess) -> std::collections::BTreeMap<String, usize> {
    let state = sandbox.control_get("/__sandbox/state");
    let mut names = std::collections::BTreeMap::new();
    for bot in state["real"]["bots"].as_object().unwrap().values() {
        *names
            .entry(bot["name"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    names
}

#[test]
fn two_applies_at_once_never_duplicate_a_bot() {
    // Before: 4 of 7 trials gave 30 duplicated bots, both applies exiting 0.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let mut duplicates = 0;
    for trial in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        bots_file(dir.path(), &format!("trial {trial}"), 3, "");
        let spawn = || {
            spawn_against(&sandbox)
                .arg("apply")
                .arg(dir.path())
                .arg("--auto-approve")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        // One applies; the other waits for the lease, then finds its plan stale (or, having
        // planned after the first finished, has nothing to do).
        assert!(
            a.status.success() || b.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
        for out in [&a, &b] {
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() || text.contains("stale"), "{text}");
        }
        duplicates += live_names(&sandbox).values().filter(|n| **n > 1).count();
        against(&sandbox)
            .arg("plan")
            .arg(dir.path())
            .arg("--detailed-exitcode")
            .assert()
            .code(0);
    }
    assert_eq!(duplicates, 0, "duplicated bots in 20 trials");
    assert_eq!(live_names(&sandbox).len(), 60);
}

/// Two applies of the same bots at once, reaching one account in two ways (`tweak` changes the
/// second process's environment), over `trials` trials: the account ends with one bot per name,
/// and each command succeeds or says it found its plan stale.
fn two_ways_at_once(trials: usize, tweak: impl Fn(&mut std::process::Command, &Path)) {
    two_ways_at_once_on(&[], trials, tweak);
}

/// The same, on a sandbox started with `sandbox_args`.
fn two_ways_at_once_on(
    sandbox_args: &[&str],
    trials: usize,
    tweak: impl Fn(&mut std::process::Command, &Path),
) {
    let sandbox = SandboxProcess::spawn(None, sandbox_args);
    for trial in 0..trials {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        bots_file(dir.path(), &format!("trial {trial}"), 3, "");
        let spawn = |second: bool| {
            let mut cmd = spawn_against(&sandbox);
            cmd.arg("apply")
                .arg(dir.path())
                .arg("--auto-approve")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if second {
                tweak(&mut cmd, other.path());
            }
            cmd.spawn().unwrap()
        };
        let (a, b) = (spawn(false), spawn(true));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for out in [&a, &b] {
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() || text.contains("stale"), "{text}");
        }
        let twins: Vec<(String, usize)> = live_names(&sandbox)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert!(twins.is_empty(), "trial {trial}: duplicated {twins:?}");
    }
    assert_eq!(live_names(&sandbox).len(), 3 * trials);
}

#[test]
fn one_writer_per_account_however_the_api_url_is_spelt() {
    // Before: `http://127.0.0.1:PORT` and `http://localhost:PORT` were two leases: 8 of 8
    // trials duplicated every bot, both commands exiting 0.
    two_ways_at_once(8, |cmd, _| {
        cmd.env(
            "THREECOMMAS_API_URL",
            cmd.get_envs()
                .find(|(k, _)| *k == "THREECOMMAS_API_URL")
                .and_then(|(_, v)| v)
                .map(|v| v.to_string_lossy().replace("127.0.0.1", "localhost"))
                .unwrap_or_default(),
        );
    });
}

#[test]
fn one_writer_per_account_whatever_the_state_dir() {
    // Before: two state dirs were two leases (8 of 8 trials duplicated).
    two_ways_at_once(8, |cmd, other| {
        cmd.env("BOTFORM_STATE_DIR", other);
    });
}

#[test]
fn one_writer_per_account_whatever_the_key() {
    // Before: two API keys of one account were two leases (8 of 8 trials duplicated). The
    // sandbox now takes a second key of the same account.
    two_ways_at_once_on(&["--extra-key", "second-key:second-secret"], 8, |cmd, _| {
        cmd.env("THREECOMMAS_API_KEY", "second-key")
            .env("THREECOMMAS_API_SECRET", "second-secret");
    });
}

#[test]
fn two_machines_at_once_leave_one_bot_per_name() {
    // Two state dirs and two lock dirs: no lock is shared, as on two CI runners. Before: every
    // bot twice. Now the apply protocol settles twins before switching anything on.
    two_ways_at_once(8, |cmd, other| {
        cmd.env("BOTFORM_STATE_DIR", other)
            .env("BOTFORM_LOCK_DIR", other.join("locks"));
    });
}

/// A one-bot config, switched on, and the apply's outcome when another machine's apply creates
/// the same bot at the same moment (`twin`: committed just before or just after ours).
fn race_with_another_machine(twin: &str) -> (SandboxProcess, tempfile::TempDir, String) {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "raced", 1, "enabled = true\n");
    sandbox.control_post("/__sandbox/race", serde_json::json!({ "twin": twin }));
    let out = apply(against(&sandbox), dir.path()).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string()
        + &String::from_utf8_lossy(&out.get_output().stderr);
    (sandbox, dir, text)
}

#[test]
fn a_twin_committed_just_before_ours_is_kept_and_ours_deleted_before_it_was_on() {
    // Before: two bots named "raced 0", ours switched on.
    let (sandbox, _dir, text) = race_with_another_machine("before");
    let left = sandbox.bots_named("raced 0");
    assert_eq!(left.len(), 1, "{left:?}\n{text}");
    assert!(
        text.contains("another apply created this bot at the same time"),
        "{text}"
    );
    // The one kept is the older, the other apply's: this apply never switched it on (that is the
    // other apply's to do), and the next plan offers to.
    assert_eq!(left[0]["is_enabled"], false, "{left:?}");
    assert!(
        text.contains(&format!("(id {}, kept)", left[0]["id"])),
        "{text}"
    );
}

#[test]
fn a_twin_committed_just_after_ours_is_deleted_and_ours_switched_on() {
    let (sandbox, dir, text) = race_with_another_machine("after");
    let left = sandbox.bots_named("raced 0");
    assert_eq!(left.len(), 1, "{left:?}\n{text}");
    assert!(text.contains("deleted its younger twin"), "{text}");
    assert_eq!(left[0]["is_enabled"], true, "{left:?}");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--detailed-exitcode")
        .assert()
        .code(0);
}

#[test]
fn a_bot_the_other_apply_deleted_first_is_left_to_it_and_the_apply_succeeds() {
    // Before: the other machine's apply deleted ours (the younger twin) before this apply looked;
    // this one saw a single bot of the name, went on to switch on a bot that was gone and failed
    // (CI, trial 6 of `two_machines_at_once_leave_one_bot_per_name`).
    let (sandbox, _dir, text) = race_with_another_machine("before_deleting_ours");
    let left = sandbox.bots_named("raced 0");
    assert_eq!(left.len(), 1, "{left:?}\n{text}");
    assert!(
        text.contains(&format!(
            "another apply created this bot at the same time (id {}, kept)",
            left[0]["id"]
        )),
        "{text}"
    );
    assert!(text.contains("was already deleted by it"), "{text}");
}

#[test]
fn prune_of_an_empty_config_deletes_nothing_without_force() {
    // Before: 25 of 25 live bots deleted with only --allow-delete.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 25, "");
    apply(against(&sandbox), dir.path()).success();
    std::fs::write(
        dir.path().join("bots.toml"),
        "[settings]\nprune = true\n\n[accounts.main]\nname = \"Binance Spot\"\n",
    )
    .unwrap();
    against(&sandbox)
        .arg("apply")
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "deletes 25 of the 25 live bots on `main` (100%)",
        ));
    assert_eq!(live_names(&sandbox).len(), 25);
}

#[test]
fn one_delete_among_few_bots_is_held_to_the_percentage_and_max_delete() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    // 4 live bots: deleting one is 25%, within 30%; with max_delete = 0 it needs --force.
    bots_file(dir.path(), "bot", 4, "");
    apply(against(&sandbox), dir.path()).success();
    let absent = |extra: &str| {
        bots_file(dir.path(), "bot", 4, "");
        edit(
            &dir.path().join("bots.toml"),
            "name = \"bot 3\"",
            "name = \"bot 3\"\nabsent = true",
        );
        let text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
        std::fs::write(dir.path().join("bots.toml"), format!("{extra}{text}")).unwrap();
    };
    absent("[settings]\nmax_delete = 0\n\n");
    against(&sandbox)
        .arg("apply")
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "more than settings.max_delete = 0",
        ));
    // Two of three left would be 66%: refused at any fleet size.
    absent("");
    against(&sandbox)
        .arg("apply")
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .success();
    edit(
        &dir.path().join("bots.toml"),
        "name = \"bot 2\"",
        "name = \"bot 2\"\nabsent = true",
    );
    edit(
        &dir.path().join("bots.toml"),
        "name = \"bot 1\"",
        "name = \"bot 1\"\nabsent = true",
    );
    against(&sandbox)
        .arg("apply")
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("deletes 2 of the 3 live bots"));
}

#[test]
fn prune_over_part_of_the_config_is_refused() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 2, "");
    let text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
    std::fs::write(
        dir.path().join("bots.toml"),
        format!("[settings]\nprune = true\n\n{text}"),
    )
    .unwrap();
    against(&sandbox)
        .arg("plan")
        .arg(dir.path().join("bots.toml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("settings.prune is on"));
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .args(["--target", "bot 0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("settings.prune is on"));
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(0);
}

#[test]
fn a_deal_that_starts_after_the_plan_stops_the_delete() {
    // Before: apply sent the DELETE; only 3Commas' own refusal stopped it.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 4, "");
    apply(against(&sandbox), dir.path()).success();
    edit(
        &dir.path().join("bots.toml"),
        "name = \"bot 3\"",
        "name = \"bot 3\"\nabsent = true",
    );
    let plan = dir.path().join("plan.json");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--out")
        .arg(&plan)
        .assert()
        .success();
    let state = sandbox.control_get("/__sandbox/state");
    let id: i64 = state["real"]["bots"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, b)| b["name"] == "bot 3")
        .map(|(id, _)| id.parse().unwrap())
        .unwrap();
    sandbox.control_post("/__sandbox/deals", serde_json::json!({ "bot_id": id }));
    sandbox.control_post("/__sandbox/stats/reset", Value::Null);
    against(&sandbox)
        .args(["apply", "--auto-approve", "--allow-delete", "--plan"])
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has 1 active deal"));
    let stats = sandbox.control_get("/__sandbox/stats");
    assert!(
        stats["by_endpoint"]["POST /ver1/bots/{id}/delete"].is_null(),
        "a DELETE was sent: {stats}"
    );
    assert!(live_names(&sandbox).contains_key("bot 3"));
}

/// The saved plan's MAC, recomputed as an attacker who knows the key would.
fn reseal(plan: &mut Value, key: &str) {
    // The fields the MAC covers, in the order botform writes them.
    let covered = serde_json::json!({
        "botform_version": plan["botform_version"],
        "saved_id": plan["saved_id"],
        "plan": plan["plan"],
    });
    plan["plan_mac"] = Value::String(botform::threecommas::signing::hmac_hex(
        key.as_bytes(),
        &serde_json::to_vec(&covered).unwrap(),
    ));
}

#[test]
fn a_tampered_plan_file_is_refused_whatever_was_changed() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 2, "");
    apply(against(&sandbox), dir.path()).success();
    edit(
        &dir.path().join("bots.toml"),
        "take_profit = 1\n",
        "take_profit = 2\n",
    );
    let path = dir.path().join("plan.json");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--out")
        .arg(&path)
        .assert()
        .success();
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let try_apply = |plan: &Value| {
        std::fs::write(&path, serde_json::to_string_pretty(plan).unwrap()).unwrap();
        against(&sandbox)
            .args(["apply", "--auto-approve", "--force", "--plan"])
            .arg(&path)
            .assert()
            .code(1)
    };
    // Edits the old hash did not cover: the safety limits (and before, the config directory,
    // which a plan file no longer carries).
    let mut loosened = original.clone();
    loosened["plan"]["limits"]["max_change_percentage"] = "100".into();
    try_apply(&loosened).stderr(predicate::str::contains("MAC does not match"));
    let mut moved = original.clone();
    moved["botform_version"] = "0.0.1".into();
    try_apply(&moved).stderr(predicate::str::contains("MAC does not match"));
    // Without the API secret a plan cannot be resealed: a key that is not the secret's fails.
    let mut forged = original.clone();
    forged["plan"]["changes"][0]["settings"]["take_profit"] = "9.9".into();
    reseal(&mut forged, "guessed key");
    try_apply(&forged).stderr(predicate::str::contains("MAC does not match"));
    // Even resealed with the real key, a plan that shows 2 and would write 9.9 is refused.
    let creds = botform::threecommas::Credentials::hmac(
        botform::sandbox::DEFAULT_API_KEY,
        botform::sandbox::DEFAULT_API_SECRET,
    );
    let key = creds.sign(botform::threecommas::client::PLAN_KEY_MESSAGE);
    let mut split = original.clone();
    split["plan"]["changes"][0]["settings"]["take_profit"] = "9.9".into();
    reseal(&mut split, &key);
    try_apply(&split).stderr(predicate::str::contains("shown differs"));
    // The untouched plan still applies, and writes what it showed.
    std::fs::write(&path, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    against(&sandbox)
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&path)
        .assert()
        .success();
    let state = sandbox.control_get("/__sandbox/state");
    for bot in state["real"]["bots"].as_object().unwrap().values() {
        assert_eq!(bot["take_profit"], "2.0", "{bot}");
    }
}

#[test]
fn a_reapply_after_kill_9_converges_without_force() {
    // Before: the first re-apply needed --force, since switching on the half-created bots
    // counted as changes.
    let sandbox = SandboxProcess::spawn(None, &["--faults", "latency_ms=300"]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "old", 10, "");
    apply(against(&sandbox), dir.path()).success();
    // Twenty more, to be switched on once created.
    let mut text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
    for i in 0..20 {
        text.push_str(&format!(
            "\n[[bots]]\nname = \"new {i}\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\nenabled = true\n"
        ));
    }
    std::fs::write(dir.path().join("bots.toml"), text).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut child = spawn_against(&sandbox)
        .env("BOTFORM_STATE_DIR", state.path())
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while live_names(&sandbox)
        .keys()
        .filter(|n| n.starts_with("new"))
        .count()
        < 5
    {
        assert!(Instant::now() < deadline, "the apply made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let made = live_names(&sandbox)
        .keys()
        .filter(|n| n.starts_with("new"))
        .count();
    assert!(
        made < 20,
        "the kill came too late to test anything ({made} made)"
    );
    // A create in flight at the kill may still land: the next apply waits it out (here the
    // clock is moved past its window). Then, with no --force: the half-made bots are finished,
    // the rest created, nothing twice.
    super::engine_support::pass_the_late_create_window(state.path());
    let mut again = against(&sandbox);
    again.env("BOTFORM_STATE_DIR", state.path());
    apply(again, dir.path()).success();
    let names = live_names(&sandbox);
    assert_eq!(names.len(), 30);
    assert!(names.values().all(|n| *n == 1), "{names:?}");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--detailed-exitcode")
        .assert()
        .code(0);
}

#[test]
fn credentials_in_the_api_url_never_reach_output_or_plans() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 1, "");
    let url = sandbox.url.replace("http://", "http://trader:hunter2@");
    let plan = dir.path().join("plan.json");
    let out = against(&sandbox)
        .env("THREECOMMAS_API_URL", &url)
        .arg("plan")
        .arg(dir.path())
        .arg("--out")
        .arg(&plan)
        .assert()
        .success()
        .get_output()
        .clone();
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&plan).unwrap(),
    ] {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
fn safety_settings_outside_their_ranges_are_validate_errors() {
    // Before: a negative max_change_percentage validated, and so switched the rail off.
    let dir = tempfile::tempdir().unwrap();
    for (setting, needle) in [
        ("max_change_percentage = -5", "max_change_percentage is -5"),
        (
            "max_change_percentage = 250",
            "max_change_percentage is 250",
        ),
        ("rate_limit = 500", "rate_limit is 500"),
    ] {
        bots_file(dir.path(), "bot", 1, "");
        let text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
        std::fs::write(
            dir.path().join("bots.toml"),
            format!("[settings]\n{setting}\n\n{text}"),
        )
        .unwrap();
        super::botform()
            .arg("validate")
            .arg(dir.path())
            .assert()
            .code(1)
            .stdout(predicate::str::contains(needle));
    }
}

/// The attack from the security review, round 3: a name that moves the cursor up 40 lines,
/// erases the screen below and draws a reassuring summary.
const ERASING_NAME: &str = "x\u{1b}[40A\u{1b}[JPlan: 0 to add, 0 to change, 0 to destroy.\u{202e}";

#[test]
fn control_characters_in_a_live_name_cannot_hide_a_destroy_line() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 3, "");
    apply(against(&sandbox), dir.path()).success();
    // 3Commas' web app lets anyone with the account rename a bot.
    let state = sandbox.control_get("/__sandbox/state");
    let id = state["real"]["bots"]
        .as_object()
        .unwrap()
        .values()
        .find(|b| b["name"] == "bot 1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({ "name": ERASING_NAME }),
    );
    // The config now owns the account and describes no bot: all three go.
    bots_file(dir.path(), "bot", 0, "\n[settings]\nprune = true\n");
    let out = against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert_eq!(text.matches("will be destroyed").count(), 3, "{text}");
    assert!(
        text.contains("x\\u{1b}[40A\\u{1b}[JPlan: 0 to add"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to add, 0 to change, 3 to destroy."),
        "{text}"
    );
}

#[test]
fn validate_refuses_control_characters_in_names_and_aliases_and_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    // TOML takes control characters only as escapes: `\u001b` in the file is ESC in the name.
    let toml = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_control() || c == '\u{202e}' {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let alias = toml("main\u{1b}[2K");
    std::fs::write(
        dir.path().join("bots.toml"),
        format!(
            "[accounts.\"{alias}\"]\nname = \"{}\"\n\n[[bots]]\nname = \"{}\"\naccount = \"{alias}\"\npairs = [\"USDT_BTC\"]\n",
            toml("Binance\u{9b}Spot"),
            toml(ERASING_NAME)
        ),
    )
    .unwrap();
    let out = super::botform()
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for raw in ['\u{1b}', '\u{9b}', '\u{202e}'] {
        assert!(
            !text.contains(raw),
            "{raw:?} reached the terminal: {text:?}"
        );
    }
    for what in ["account alias", "account name", "bot name"] {
        assert!(
            text.contains(&format!("{what} `"))
                && text.contains("holds a terminal control character"),
            "{what}: {text}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_at_a_lock_path_is_refused_not_waited_on() {
    // Before: opening a FIFO planted at the lease's path blocked until a reader came: apply hung.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "bot", 1, "");
    let locks = tempfile::tempdir().unwrap();
    let lease = locks.path().join(format!(
        "{}.lock",
        botform::threecommas::client::origin_id(&sandbox.url)
    ));
    let made = std::process::Command::new("mkfifo")
        .arg(&lease)
        .status()
        .unwrap();
    assert!(made.success());
    against(&sandbox)
        .env("BOTFORM_LOCK_DIR", locks.path())
        .args(["apply", "--auto-approve"])
        .arg(dir.path())
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a regular file"));
    assert!(
        live_names(&sandbox).is_empty(),
        "nothing was written without the lease"
    );
}

#[test]
fn a_bot_edited_in_the_web_app_while_the_person_reads_the_plan_is_never_overwritten() {
    // `botform apply` takes the account's lease before its plan's read and keeps it to its last
    // write; with --auto-approve it writes on that read. After a person's `yes` it reads again:
    // someone may have changed a bot in the web app while the plan was on screen.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    bots_file(dir.path(), "read", 2, "");
    apply(against(&sandbox), dir.path()).success();
    edit(
        &dir.path().join("bots.toml"),
        "name = \"read 0\"",
        "name = \"read 0\"\ntake_profit = 2",
    );
    // The confirmation needs a terminal: `script` gives the apply one, fed from a pipe.
    let inner = spawn_against(&sandbox);
    let mut cmd = std::process::Command::new("script");
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    let line = format!(
        "{} apply {}",
        env!("CARGO_BIN_EXE_botform"),
        dir.path().display()
    );
    let mut child = cmd
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains("Only 'yes' will be accepted") {
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&seen)
        );
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut chunk).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    // The plan is on screen: the web app changes the bot the plan updates.
    let id = sandbox.bot("read 0")["id"].as_i64().unwrap();
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({"take_profit": "9"}),
    );
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"yes\n").unwrap();
    }
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    seen.extend_from_slice(&rest);
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(!status.success() && text.contains("stale"), "{text}");
    assert_eq!(
        sandbox.bot("read 0")["take_profit"],
        "9.0",
        "the web app's edit stands"
    );
}
