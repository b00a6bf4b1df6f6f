//! No import loops between the top-level modules of any workspace crate: if `a` uses
//! `crate::b`, then `b` (and whatever `b` uses) never uses `crate::a`. Each crate reads one
//! way, from its entry points down to the modules that depend on nothing else.
//!
//! Edges come from `crate::<module>` paths (in `use` lines and inline, grouped imports
//! included) outside `#[cfg(test)]` modules; a loop is a strongly connected set of modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "shared",
    "testkit",
    "services/account",
    "services/board",
    "services/messaging",
    "services/timetable",
    "gateway",
    "standalone",
    "bench",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_crate_has_an_import_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let mut loops = Vec::new();
    for name in CRATES {
        let src = root.join(name).join("src");
        let graph = module_graph(&src);
        assert!(!graph.is_empty(), "{name}: no modules found under {}", src.display());
        for component in strongly_connected(&graph) {
            loops.push(format!("{name}: {component:?}"));
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn a_loop_is_found() {
    let graph: Graph = [("a", &["b"][..]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]
        .into_iter()
        .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
        .collect();
    assert_eq!(strongly_connected(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    let text = "use crate::a::X;\nuse crate::{b::Y, c};\n#[cfg(test)]\nmod tests {\n    use crate::d;\n}\n";
    assert_eq!(dependencies(text), ["a", "b", "c"].map(String::from).into_iter().collect());
}

/// Top-level module → the top-level modules it names.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || module == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let deps = dependencies(&text);
        graph.entry(module.clone()).or_default().extend(deps.into_iter().filter(|d| *d != module));
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The modules a source file names with `crate::`, leaving out `#[cfg(test)] mod … { … }`.
fn dependencies(text: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|l| l.trim_start().starts_with("mod ") && l.ends_with('{'))
        {
            let mut depth = 0i32;
            for inner in lines.by_ref() {
                depth += inner.matches('{').count() as i32 - inner.matches('}').count() as i32;
                if depth <= 0 {
                    break;
                }
            }
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `campus_crate::`, not `crate::`
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        deps.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    deps.insert(name);
                }
            }
        }
    }
    deps
}

/// The sets of two or more modules that reach each other (Tarjan), each sorted.
fn strongly_connected(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph[v].iter().filter(|w| self.graph.contains_key(*w)) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_string());
                    if w == v {
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
    let mut walk =
        Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}
