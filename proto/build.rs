//! Compiles every `campus/**/v1/*.proto` with the vendored protoc (no system protoc needed)
//! and writes one descriptor set for server reflection and the gateway's transcoder.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: checkouts at other paths
    // that share a target directory reuse the compiled script.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut protos = Vec::new();
    collect_protos(&root.join("campus"), &mut protos)?;
    protos.sort();

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // `prost::Name` for every message: event payloads travel as `google.protobuf.Any`.
    config.enable_type_names();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let includes = [root.to_path_buf(), protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("campus_descriptor.bin"))
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
