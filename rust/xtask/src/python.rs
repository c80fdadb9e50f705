//! The pinned Python tools (`tools/requirements.txt`) in a venv under `target/`.

use crate::Result;
use std::path::PathBuf;
use std::process::Command;

/// Returns the venv's interpreter, creating or updating the venv when the
/// requirements changed since it was made.
pub fn venv() -> Result<PathBuf> {
    let root = crate::root();
    let dir = root.join("target/venv");
    let python = dir.join("bin/python");
    let requirements = root.join("tools/requirements.txt");
    let wanted = std::fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = dir.join("installed-requirements.txt");
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return Ok(python);
    }
    eprintln!("xtask: preparing the Python venv in {}", dir.display());
    if !python.exists() && crate::run(Command::new("python3").args(["-m", "venv"]).arg(&dir)).is_err() {
        // Debian's python3 keeps venv in a package of its own.
        crate::run(Command::new("apt-get").args(["install", "-y", "-qq", "python3-venv"]))?;
        crate::run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir))?;
    }
    crate::run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}
