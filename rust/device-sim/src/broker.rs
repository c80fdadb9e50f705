//! Starts the project's mosquitto (`broker/mosquitto.conf.in`, `broker/acl`) for
//! the tests and the demo: the configuration written into a directory of its own
//! with the CA's certificate paths and a port, `mosquitto -c`, then a wait until the
//! port accepts connections. Debian's `mosquitto` package provides the binary.
//! Given the CA's revocation list (`bootstrap-ca crl --out FILE`), the broker refuses
//! the client certificates it lists; [`Broker::reload`] has it read the file again.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CONFIG_TEMPLATE: &str = include_str!("../../../broker/mosquitto.conf.in");
pub const ACL: &str = include_str!("../../../broker/acl");
/// How long the broker may take to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A free TCP port on 127.0.0.1 (free when asked: bind it soon).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running mosquitto; stopped (SIGTERM) when dropped.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    /// The directory with `mosquitto.conf`, `acl`, the persistence database and
    /// `mosquitto.log`.
    pub dir: PathBuf,
}

impl Broker {
    /// Writes the configuration into `dir` for the CA files in `ca_dir`
    /// (`ca.crt.pem`, `server.crt.pem`, `server.key.pem`: `bootstrap-ca init`'s) and
    /// starts mosquitto on `127.0.0.1:port`.
    pub fn start(dir: &Path, ca_dir: &Path, port: u16) -> Result<Broker, String> {
        Self::start_with_crl(dir, ca_dir, port, None)
    }

    /// [`Broker::start`], and with `crl` (a PEM CRL of the CA, which must exist) the
    /// listener's `crlfile`: mosquitto refuses the client certificates it lists.
    pub fn start_with_crl(
        dir: &Path,
        ca_dir: &Path,
        port: u16,
        crl: Option<&Path>,
    ) -> Result<Broker, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let abs = |p: &Path| std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()));
        let dir = abs(dir)?;
        let ca_dir = abs(ca_dir)?;
        let acl = dir.join("acl");
        std::fs::write(&acl, ACL).map_err(|e| format!("{}: {e}", acl.display()))?;
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        let config = CONFIG_TEMPLATE
            .replace("@USER@", &user)
            .replace("@STATE@", &dir.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@CAFILE@", &ca_dir.join("ca.crt.pem").display().to_string())
            .replace("@CERTFILE@", &ca_dir.join("server.crt.pem").display().to_string())
            .replace("@KEYFILE@", &ca_dir.join("server.key.pem").display().to_string())
            .replace("@ACLFILE@", &acl.display().to_string());
        let config = match crl {
            Some(crl) => config.replace("#crlfile @CRLFILE@", &format!("crlfile {}", abs(crl)?.display())),
            None => config,
        };
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, config).map_err(|e| format!("{}: {e}", conf.display()))?;
        let mut broker = Broker { child: None, port, dir };
        broker.restart()?;
        Ok(broker)
    }

    /// Starts mosquitto again on the same configuration and persistence.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("mosquitto: {e} (Debian package mosquitto)"))?;
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    self.child = None;
                    return Err(format!("mosquitto ended ({status}): {err} {}", self.log()));
                }
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("mosquitto did not listen on {address} within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGHUP: mosquitto reads its configuration, certificates and CRL again (existing
    /// connections stay). Returns once the log says it has reloaded: mosquitto reloads
    /// in its one thread, so a handshake that starts after that meets the new CRL.
    pub fn reload(&self) -> Result<(), String> {
        let pid = self.pid().ok_or("mosquitto is not running")?;
        let reloads = |log: &str| log.matches("Reloading config.").count();
        let before = reloads(&self.log());
        let status = Command::new("kill").args(["-HUP", &pid.to_string()]).status();
        if !status.map(|s| s.success()).unwrap_or(false) {
            return Err(format!("kill -HUP {pid} failed"));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while reloads(&self.log()) == before {
            if Instant::now() > deadline {
                return Err(format!("mosquitto did not reload within {START_TIMEOUT:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A clean stop (SIGTERM: mosquitto saves its persistence database), waited for.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL: what was not saved yet is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
