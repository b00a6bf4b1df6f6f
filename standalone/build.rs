//! Embeds the web client's built bundle (`web/dist`, committed; `npm run build` in `web/`
//! rebuilds it) into the `campus` binary: writes `$OUT_DIR/web_assets.rs`, a sorted table of
//! `(url path, include_bytes!(file))` that `src/web.rs` serves. No npm at build or run time.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../web/dist");
    // Cargo watches every file under a directory named here.
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut found = Vec::new();
    if dist.is_dir() {
        files(&dist, &mut found)?;
    } else {
        println!(
            "cargo:warning=web/dist is missing: the web client will not be served (run `npm run build` in web/)"
        );
    }
    found.sort();
    let dist = dist.canonicalize().unwrap_or(dist);
    let mut table = String::from(
        "/// The web client's files by URL path, sorted.\npub(crate) static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for file in &found {
        let file = file.canonicalize()?;
        let Ok(relative) = file.strip_prefix(&dist) else { continue };
        let url: Vec<String> =
            relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        table.push_str(&format!("    ({:?}, include_bytes!({:?})),\n", format!("/{}", url.join("/")), file));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("web_assets.rs"), table)
}
