//! The host's shape, checked: its top-level modules (a folder counts as one) import each other
//! without a cycle and in the layer order the README claims ([`ORDER`]), so that arrows point
//! one way — the store below everything, capabilities below the call path, the call path below
//! the registry, the registry below the runtime, the front door and server on top — and no
//! source file grows past what one reader takes in at a sitting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file, in lines.
const MAX_LINES: usize = 420;

/// The top-level modules from the bottom up, as the README's layout lists them: each may use
/// only those before it. Leaves first (the store among them: it uses nothing of the host),
/// then the capabilities an adapter imports, the call path, the registry, the runtime, what
/// runs on the runtime, and the front door and the server on top. A new module takes its place
/// here (and in the README).
const ORDER: &[&str] = &[
    "clock",
    "error",
    "bindings",
    "files",
    "cadence",
    "egress",
    "manifest",
    "store",
    "seal",
    "redact",
    "journal",
    "recent",
    "metrics",
    "connections",
    "retry",
    "description",
    "digest",
    "engine",
    "guest_env",
    // The capabilities: never the call path.
    "steps",
    "items",
    "http",
    "tokens",
    "storage",
    "jobs",
    "pause",
    "call",
    "sandbox",
    "inbound",
    "record",
    "registry",
    "runtime",
    "workers",
    "schedule",
    "retention",
    "watch",
    // The operator's verbs: what the front door, the console and the CLI may do.
    "operations",
    "fixture",
    "scaffold",
    "front",
    "server",
];

/// Arrows that the layer order alone would allow but that go past a door: the front door and
/// the console reach the store and the call path only through the runtime and the operations,
/// and a capability an adapter imports never calls back into the call path.
const FORBIDDEN: &[(&str, &str)] = &[
    ("front", "store"),
    ("front", "call"),
    ("server", "store"),
    ("server", "call"),
    ("http", "call"),
    ("tokens", "call"),
    ("storage", "call"),
    ("jobs", "call"),
    ("steps", "call"),
    ("items", "call"),
    ("pause", "call"),
];

/// What the binary (`host/src/bin`) may not name of the library: it opens no store and runs
/// no call itself, and takes nothing from the runtime's insides.
const BIN_FORBIDDEN: &[&str] = &["weft::store", "weft::call", ".shared()"];

/// What the front door (`host/src/front`) may not do besides its imports: take the runtime's
/// insides.
const FRONT_FORBIDDEN: &[&str] = &[".shared()"];

/// Every arrow of `edges` that [`FORBIDDEN`] names.
fn forbidden(edges: &BTreeMap<String, BTreeSet<String>>, rules: &[(&str, &str)]) -> Vec<String> {
    rules
        .iter()
        .filter(|(a, b)| edges.get(*a).is_some_and(|t| t.contains(*b)))
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect()
}

/// Every (file, text) where a file under `dir` names one of `words`, comments left out.
fn named_in(dir: &Path, words: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    sources(dir, &mut files);
    let mut found = Vec::new();
    for file in files {
        let code = std::fs::read_to_string(&file).expect("read");
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for w in words {
                if line.contains(w) {
                    found.push(format!("{}:{}: {w}", file.display(), n + 1));
                }
            }
        }
    }
    found
}

/// Every arrow that points up or sideways in `order` (`a -> b` where `b` does not come before
/// `a`), and every module `order` does not place.
fn against_order(edges: &BTreeMap<String, BTreeSet<String>>, order: &[&str]) -> Vec<String> {
    let place = |m: &str| order.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    for (a, targets) in edges {
        let Some(pa) = place(a) else {
            wrong.push(format!("{a} has no place in the layer order"));
            continue;
        };
        for b in targets {
            match place(b) {
                Some(pb) if pb < pa => {}
                Some(_) => wrong.push(format!("{a} -> {b}: {b} is not below {a}")),
                // Not a module (`crate::Runtime`, a re-export at the root).
                None => {}
            }
        }
    }
    wrong
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module `file` belongs to (`None`: the crate root or the binary).
fn top_module(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    if first == "bin" || first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// Every top-level module `code` names through `crate::`, comments left out.
fn references(code: &str) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each item at the group's top level.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        found: Vec<Vec<String>>,
    }
    impl Walk<'_> {
        fn visit(&mut self, v: &str) {
            let n = self.index.len();
            self.index.insert(v.to_string(), n);
            self.low.insert(v.to_string(), n);
            self.stack.push(v.to_string());
            let next: Vec<String> = self.edges.get(v).into_iter().flatten().cloned().collect();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let low = self.low[v].min(self.low[&w]);
                    self.low.insert(v.to_string(), low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[&w]);
                    self.low.insert(v.to_string(), low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    let done = w == v;
                    component.push(w);
                    if done {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn host_modules_import_each_other_without_a_cycle() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = top_module(file) else {
            continue;
        };
        edges.entry(module.clone()).or_default();
        let code = std::fs::read_to_string(file).expect("read");
        for target in references(&code) {
            if target != module {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    // Names that are not modules (`crate::Runtime`, re-exports at the root) have no edges out.
    assert!(edges.len() > 20, "found only {} modules", edges.len());
    let found = cycles(&edges);
    let explain: Vec<String> = found
        .iter()
        .map(|c| {
            let arrows: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            arrows.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles: {explain:#?}");
    let wrong = against_order(&edges, ORDER);
    assert!(
        wrong.is_empty(),
        "arrows against the layer order: {wrong:#?}"
    );
    let past_a_door = forbidden(&edges, FORBIDDEN);
    assert!(
        past_a_door.is_empty(),
        "arrows past a door (use the runtime or crate::operations): {past_a_door:#?}"
    );
    // The clock is the one leaf it reads: a storage key's expiry is judged at the store.
    assert!(
        edges["store"].iter().all(|m| m == "clock"),
        "the store uses nothing of the host but the clock: {:?}",
        edges["store"]
    );
}

#[test]
fn the_binary_and_the_front_door_come_through_the_operations() {
    let bin = named_in(&src().join("bin"), BIN_FORBIDDEN);
    assert!(
        bin.is_empty(),
        "the binary reaches past the runtime and the operations: {bin:#?}"
    );
    let front = named_in(&src().join("front"), FRONT_FORBIDDEN);
    assert!(
        front.is_empty(),
        "the front door takes the runtime's insides: {front:#?}"
    );
}

#[test]
fn the_checker_sees_an_arrow_past_a_door() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges
        .entry("front".into())
        .or_default()
        .insert("operations".into());
    assert!(forbidden(&edges, FORBIDDEN).is_empty());
    edges
        .entry("front".into())
        .or_default()
        .insert("store".into());
    assert_eq!(forbidden(&edges, FORBIDDEN), ["front -> store"]);
    let refs = references("use crate::store::JobState;");
    assert!(refs.contains("store"));
}

#[test]
fn the_checker_sees_an_arrow_against_the_order() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges
        .entry("store".into())
        .or_default()
        .insert("clock".into());
    edges
        .entry("jobs".into())
        .or_default()
        .insert("store".into());
    assert!(against_order(&edges, &["clock", "store", "jobs"]).is_empty());
    edges
        .entry("store".into())
        .or_default()
        .insert("jobs".into());
    edges.entry("new".into()).or_default();
    assert_eq!(
        against_order(&edges, &["clock", "store", "jobs"]),
        [
            "new has no place in the layer order",
            "store -> jobs: jobs is not below store"
        ]
    );
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [
        ("call", "jobs"),
        ("jobs", "runtime"),
        ("runtime", "call"),
        ("x", "call"),
    ] {
        edges.entry(a.into()).or_default().insert(b.into());
        edges.entry(b.into()).or_default();
    }
    assert_eq!(cycles(&edges), vec![vec!["call", "jobs", "runtime"]]);
    let refs = references("use crate::{a::X, b::{c, d}};\n// crate::nope\nlet x = crate::e::f();");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), vec!["a", "b", "e"]);
}

#[test]
fn no_source_file_is_longer_than_one_sitting() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).expect("read").lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by what they do: {long:#?}");
}
