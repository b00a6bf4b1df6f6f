//! Reading the environment and the data directory: variables with defaults, their errors,
//! and private files and directories for keys, secrets and databases. Depends on nothing
//! else in this crate, so every other module may use it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A misconfigured variable: which one and why.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

/// The value of `name`, when set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Parses `name`, or returns `default` when it is unset.
pub fn parse_or<T: FromStr>(name: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|e: T::Err| ConfigError { name: name.into(), problem: e.to_string() })
        }
    }
}

/// Seconds from `name` as a duration.
pub fn seconds_or(name: &str, default_secs: u64) -> Result<Duration, ConfigError> {
    parse_or(name, default_secs).map(Duration::from_secs)
}

/// Where the standalone run keeps its SQLite files, keys and photos.
pub fn data_dir() -> PathBuf {
    var("CAMPUS_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data"))
}

/// Creates `dir` and its missing parents, each readable by its owner only (0700): the data
/// directory holds the keys, the service credential, the databases and the photos.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Takes group and other permissions away from an existing file or directory (a data
/// directory or database made by an older version, or by a process with a loose umask).
pub fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The data directory made ready: created, or made private if it already was there.
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    restrict_to_owner(dir)
}

/// Reads a secret file, creating it with `make()` the first time.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)?;
            }
            let value = make();
            write_private(path, &value)?;
            Ok(value)
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(value.as_bytes())
}

/// One documented environment variable, for `--help`.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn data_dirs_and_secrets_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("a/data");
        let secret = data.join("keys/service-token");
        load_or_create(&secret, || "s3cret".into()).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&data), mode(&secret)), (0o700, 0o700, 0o600));

        let old = root.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_data_dir(&old).unwrap();
        assert_eq!(mode(&old), 0o700);
    }
}
