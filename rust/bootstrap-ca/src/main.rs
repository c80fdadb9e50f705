//! `bootstrap-ca`: init, serve, list, revoke, export, credential, crl. Exit codes: 0 done, 1 failed,
//! 2 usage.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bootstrap_ca::api::{now_unix, Limits};
use bootstrap_ca::sqlite::SqliteStore;
use bootstrap_ca::store::{RateLimit, Settings, Store};
use bootstrap_ca::{cert, crl, csr, files, server, service, wire, Error, Result};
use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "Exit codes: 0 done, 1 failed (the reason on stderr), 2 usage.";

/// The bootstrap CA: signs device CSRs over mutual TLS (liteboot's wire format).
#[derive(Parser)]
#[command(name = "bootstrap-ca", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a CA in DIR: CA key and certificate, the server's certificate for
    /// localhost and 127.0.0.1, the fleet's bootstrap client credential, the database.
    #[command(after_help = EXIT_CODES)]
    Init {
        /// The CA's directory (created 0700 if missing; existing keys are never overwritten).
        #[arg(long)]
        dir: PathBuf,
        /// The organisation: the O of every certificate, required in device CSRs.
        #[arg(long, default_value = "Linaro")]
        org: String,
        /// The MQTT hub host that GET /api/v1/ccs hands to devices.
        #[arg(long, default_value = "localhost")]
        hub_host: String,
        /// The MQTT hub port that GET /api/v1/ccs hands to devices.
        #[arg(long, default_value_t = 8883)]
        hub_port: u16,
        /// Lifetime of device certificates, in days (notBefore is set 5 minutes back).
        #[arg(long, default_value_t = 365)]
        validity_days: u32,
        /// The OU of the bootstrap client credential, required of every client.
        #[arg(long, default_value = "LinaroCA Bootstrap Cert")]
        bootstrap_ou: String,
    },
    /// Serve HTTPS with mutual TLS until SIGINT or SIGTERM. Prints
    /// "bootstrap-ca: listening on https://ADDRESS" first.
    #[command(after_help = EXIT_CODES)]
    Serve {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// Address and port; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:1443")]
        listen: SocketAddr,
        /// Largest request body in bytes (a larger one is refused with 413 unread).
        #[arg(long, default_value_t = 16 * 1024)]
        max_body: usize,
        /// Seconds for the TLS handshake and for each request's head; also how long an
        /// idle keep-alive connection stays open.
        #[arg(long, default_value_t = 10.0)]
        header_timeout: f64,
        /// Seconds for a request body to arrive once its head is in.
        #[arg(long, default_value_t = 10.0)]
        body_timeout: f64,
        /// Seconds a reply may wait for a client that does not read.
        #[arg(long, default_value_t = 10.0)]
        write_timeout: f64,
        /// Open connections in all; more are closed at once.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Open connections from one IP address; more are closed at once.
        #[arg(long, default_value_t = 64)]
        max_connections_per_ip: usize,
        /// Certificates one device (UUID) may get per window; 0: no limit.
        #[arg(long, default_value_t = 10)]
        device_limit: u32,
        /// The window of --device-limit, in seconds.
        #[arg(long, default_value_t = 3600)]
        device_window: i64,
    },
    /// List the certificates: serial, UUID, key label, status, validity.
    #[command(after_help = EXIT_CODES)]
    List {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// Only this device's certificates.
        #[arg(long)]
        uuid: Option<String>,
    },
    /// Revoke a device by one of its certificates: all its valid certificates are
    /// revoked and it gets no certificate again.
    #[command(after_help = EXIT_CODES)]
    Revoke {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// Decimal, or hex with 0x.
        serial: String,
    },
    /// Print a certificate as PEM.
    #[command(after_help = EXIT_CODES)]
    Export {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// Decimal, or hex with 0x.
        serial: String,
    },
    /// Issue a service's client credential (clientAuth), such as the cloud consumer's
    /// for the MQTT broker (--cn cloud-consumer): writes CN.crt.pem and CN.key.pem
    /// (0600). Recorded and revocable as device certificates are; a new one supersedes
    /// the previous one of the same CN. Devices get theirs from their CSRs instead: a
    /// CN that is a UUID is refused.
    #[command(after_help = EXIT_CODES)]
    Credential {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// The service's name, its certificate's CN (the broker's MQTT user): letters,
        /// digits, '.', '_', '-'.
        #[arg(long)]
        cn: String,
        /// Where to write CN.crt.pem and CN.key.pem (never overwritten).
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// The certificate's OU; never the bootstrap OU or a device key label.
        #[arg(long, default_value = service::DEFAULT_OU)]
        ou: String,
        /// Lifetime in days (notBefore is set 5 minutes back).
        #[arg(long, default_value_t = files::CREDENTIAL_DAYS as u32)]
        days: u32,
    },
    /// Write the certificate revocation list: every revoked certificate (by `revoke`,
    /// or superseded by a newer one), signed by the CA, PEM. A TLS server that checks
    /// it (mosquitto's crlfile) refuses them; it refuses every client once nextUpdate
    /// has passed, so make a new one before.
    #[command(after_help = EXIT_CODES)]
    Crl {
        /// The CA's directory, as init wrote it.
        #[arg(long)]
        dir: PathBuf,
        /// The file to write (replaced atomically); standard output if absent.
        #[arg(long)]
        out: Option<PathBuf>,
        /// nextUpdate: this many days after thisUpdate (now).
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

fn seconds(name: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| Error::Usage(format!("--{name} must be a positive number of seconds")))
}

fn serial(text: &str) -> Result<u128> {
    wire::parse_serial(text)
        .ok_or_else(|| Error::Usage(format!("\"{text}\" is not a serial (decimal, or hex with 0x)")))
}

fn open(dir: &Path) -> Result<SqliteStore> {
    SqliteStore::open(&dir.join(files::DB))
}

fn date(unix: i64) -> String {
    let at = Duration::from_secs(unix.max(0) as u64);
    der::DateTime::from_unix_duration(at).map(|d| d.to_string()).unwrap_or_else(|_| unix.to_string())
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Init { dir, org, hub_host, hub_port, validity_days, bootstrap_ou } => {
            let settings = Settings { org, hub_host, hub_port, validity_days, bootstrap_ou };
            let written = files::init(&dir, &settings, now_unix() as u64)?;
            println!("bootstrap-ca: a new CA in {}", dir.display());
            for path in written {
                println!("  {}", path.display());
            }
            Ok(())
        }
        Command::Serve {
            dir,
            listen,
            max_body,
            header_timeout,
            body_timeout,
            write_timeout,
            max_connections,
            max_connections_per_ip,
            device_limit,
            device_window,
        } => {
            if max_body == 0 || max_connections == 0 || max_connections_per_ip == 0 || device_window <= 0 {
                return Err(Error::Usage(
                    "--max-body, --max-connections, --max-connections-per-ip and --device-window must be positive".into(),
                ));
            }
            let limits = Limits {
                max_body,
                body_timeout: seconds("body-timeout", body_timeout)?,
                rate: RateLimit { max: device_limit, window_secs: device_window },
            };
            server::serve(server::Options {
                dir,
                listen,
                header_timeout: seconds("header-timeout", header_timeout)?,
                write_timeout: seconds("write-timeout", write_timeout)?,
                limits,
                max_connections,
                max_connections_per_ip,
            })
        }
        Command::List { dir, uuid } => {
            let mut store = open(&dir)?;
            let records = match uuid {
                Some(uuid) => store.certificates_of(&uuid.to_ascii_lowercase())?,
                None => store.list()?,
            };
            println!(
                "{:<39}  {:<36}  {:<19}  {:<7}  {:<20}  NOT AFTER",
                "SERIAL", "UUID", "KEY", "STATUS", "NOT BEFORE"
            );
            for r in records {
                println!(
                    "{:<39}  {:<36}  {:<19}  {:<7}  {:<20}  {}",
                    r.serial,
                    r.uuid,
                    r.label,
                    r.status,
                    date(r.not_before),
                    date(r.not_after)
                );
            }
            Ok(())
        }
        Command::Revoke { dir, serial: text } => {
            let serial = serial(&text)?;
            let record = open(&dir)?.revoke(serial, now_unix(), "bootstrap-ca revoke")?;
            let record = record.ok_or_else(|| {
                Error::refused(bootstrap_ca::Refusal::NotFound, format!("no certificate with serial {text}"))
            })?;
            let kind =
                if csr::key_of_label(&record.label).is_some() { "device" } else { "service credential" };
            println!(
                "bootstrap-ca: revoked {kind} {} and its valid certificates ({} \"{}\" included)",
                record.uuid, record.serial, record.label
            );
            Ok(())
        }
        Command::Export { dir, serial: text } => {
            let serial = serial(&text)?;
            let record = open(&dir)?.certificate(serial)?;
            let record = record.ok_or_else(|| {
                Error::refused(bootstrap_ca::Refusal::NotFound, format!("no certificate with serial {text}"))
            })?;
            print!("{}", cert::pem(&record.der)?);
            Ok(())
        }
        Command::Credential { dir, cn, out_dir, ou, days } => {
            let now = now_unix();
            let request = service::Request { cn: &cn, ou: &ou, days, out_dir: &out_dir, now };
            let written = service::issue(&dir, &request)?;
            // The certificate's notAfter: from the same clock reading as it.
            let until = now.saturating_add(i64::from(days) * 86_400);
            println!(
                "bootstrap-ca: credential CN={cn}, OU={ou}, clientAuth, serial {}, until {}",
                written.serial,
                date(until)
            );
            for old in &written.superseded {
                println!("  supersedes serial {old} (revoked)");
            }
            println!("  {}\n  {}", written.cert.display(), written.key.display());
            Ok(())
        }
        Command::Crl { dir, out, days } => {
            if !(1..=3650).contains(&days) {
                return Err(Error::Usage("--days must be 1 to 3650".into()));
            }
            let ca = files::load_ca(&dir)?;
            let revoked: Vec<crl::Revoked> = open(&dir)?
                .revoked()?
                .into_iter()
                .map(|r| crl::Revoked {
                    serial: r.serial,
                    at: r.revoked_at.max(0) as u64,
                    superseded: r.reason.as_deref() == Some("superseded"),
                })
                .collect();
            let now = now_unix().max(0) as u64;
            let pem = crl::pem(&crl::build(&ca, &revoked, now, u64::from(days) * 86_400)?)?;
            match out {
                None => print!("{pem}"),
                Some(path) => {
                    files::replace(&path, &pem, 0o644)?;
                    println!(
                        "bootstrap-ca: CRL of {} revoked certificates, next update {}: {}",
                        revoked.len(),
                        date(now as i64 + i64::from(days) * 86_400),
                        path.display()
                    );
                }
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap-ca: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
