//! The house's shape (issue 19, STYLE.md): the module graph of `src/` has no circles, and the
//! engine, the model, the config and the simulation never reach into the sandbox. Read from the
//! source itself, so a change that brings a circle back fails here, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::root;

/// Every module of `src/` (by path: `engine::plan`) and the text of its file, tests left out.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, src, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            if parts.last().map(String::as_str) == Some("tests") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let code: String = code
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    let src = root().join("src");
    let mut out = BTreeMap::new();
    walk(&src, &src, &mut out);
    out
}

/// The module a path in `module`'s code names (`super::plan::Change` in `engine::apply` is
/// `engine::plan`), when it is one of ours.
fn resolve(module: &str, path: &[&str], known: &BTreeMap<String, String>) -> Option<String> {
    let mut base: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut rest = path;
    match rest.first() {
        Some(&"crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some(&"super") => {
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(&"self") => rest = &rest[1..],
        _ => return None,
    }
    let full: Vec<&str> = base.into_iter().chain(rest.iter().copied()).collect();
    (1..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|candidate| known.contains_key(candidate))
}

fn edges() -> BTreeSet<(String, String)> {
    let modules = modules();
    let mut edges = BTreeSet::new();
    for (module, code) in &modules {
        for prefix in ["crate::", "super::", "self::"] {
            for (at, _) in code.match_indices(prefix) {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let text: String = code[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path: Vec<&str> = text.split("::").filter(|p| !p.is_empty()).collect();
                if let Some(target) = resolve(module, &path, &modules)
                    && &target != module
                    && !target.starts_with(&format!("{module}::"))
                    && !module.starts_with(&format!("{target}::"))
                {
                    edges.insert((module.clone(), target));
                }
            }
        }
    }
    edges
}

/// The circles of a graph: its strongly connected components of more than one module.
fn circles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
        next.entry(b).or_default();
    }
    // Reachability by search from every module: small graphs, plain and obviously right.
    let reach = |from: &str| -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(m) = stack.pop() {
            for n in &next[m] {
                if seen.insert(*n) {
                    stack.push(n);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> = next.keys().map(|m| (*m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in next.keys() {
        if done.contains(*m) {
            continue;
        }
        let circle: Vec<String> = next
            .keys()
            .filter(|n| *n == m || (reaches[m].contains(*n) && reaches[*n].contains(m)))
            .map(|n| n.to_string())
            .collect();
        for n in &circle {
            done.insert(n.clone());
        }
        if circle.len() > 1 {
            out.push(circle);
        }
    }
    out
}

#[test]
fn the_module_graph_has_no_circles() {
    let edges = edges();
    assert!(
        edges.len() > 300,
        "the scan found the modules' uses: {}",
        edges.len()
    );
    assert_eq!(circles(&edges), Vec::<Vec<String>>::new());
}

#[test]
fn the_engine_and_the_model_never_reach_into_the_sandbox() {
    let into_sandbox: Vec<(String, String)> = edges()
        .into_iter()
        .filter(|(from, to)| {
            ["engine", "model", "config", "simulate", "threecommas"]
                .iter()
                .any(|layer| from == layer || from.starts_with(&format!("{layer}::")))
                && (to == "sandbox" || to.starts_with("sandbox::"))
        })
        .collect();
    assert!(into_sandbox.is_empty(), "{into_sandbox:?}");
}

/// The scan itself: a circle put in by hand is found, and a plain chain is not one.
#[test]
fn the_circle_finder_finds_a_circle() {
    let pairs = |list: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        circles(&pairs(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    assert!(circles(&pairs(&[("a", "b"), ("b", "c")])).is_empty());
}
