//! `device-sim`: boots the emulated device (secure process + non-secure shell).

use device_sim::client::SocketClient;
use device_sim::platform::{self, Platform};
use device_sim::secure::SecureConfig;
use device_sim::shell::{Line, Shell, PROMPT};
use device_sim::spm::Spm;
use ns_app::bootstrap::Https;
use std::io::{IsTerminal, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: device-sim [--state DIR] [--huk HEX | --huk-file FILE] [--label-extra S] [--org NAME]
                  [--recipient HEX] [--verify-sign] [--infer-get-max-steps N]
                  [--bootstrap-creds DIR] [--bootstrap-server HOST:PORT]
                  [--azure-format SIGN1|ENCRYPT0] [--azure-period S] [--azure-queue N]
                  [--azure-keep-alive S] [--azure-trace FILE] [-c 'CMD; CMD...']

Boots the emulated device: the secure world in its own process, then the
non-secure shell. Commands come from -c, from standard input when it is not a
terminal, and otherwise from an interactive prompt (tab completion, history).

  --state DIR      state directory: OTP HUK and trusted storage (default: device-state)
  --huk HEX        program this 32-byte HUK at first boot (default: TF-M's AN521
                   dummy provisioning value)
  --huk-file FILE  the same, from a 32-byte file (--huk puts the HUK in this
                   process's command line, which other users of the host can read;
                   the secure process gets it on a pipe either way)
  --label-extra S  HUK_DERIV_LABEL_EXTRA: diversifies the keys of emulated devices
                   that share a HUK (at most 15 characters; default empty)
  --org NAME       organisation in CSR subjects (default: Linaro)
  --recipient HEX  SECURE_INFER_RESULT_RECIPIENT: the P-256 public key (uncompressed
                   SEC1, 130 hex digits) ENCRYPT0 results are encrypted for (default:
                   the demo recipient, keys/demo-recipient.pub.pem)
  --verify-sign    CONFIG_NONSECURE_COSE_VERIFY_SIGN: `infer get` verifies SIGN1
                   results with the exported key 0x5002 before printing them
  --infer-get-max-steps N
                   CONFIG_NONSECURE_INFER_GET_MAX_STEPS: the most angles one
                   `infer get` runs, 1 to 65535 (default 360)
  --bootstrap-creds DIR
                   the bootstrap CA's files for devices (what `bootstrap-ca init`
                   writes): ca.crt.pem, the CA the server's and the issued
                   certificates must chain to, and the fleet's bootstrap client
                   credential bootstrap.crt.pem, bootstrap.key.pem. Without it the
                   device has no network and `keys ca` says so
  --bootstrap-server HOST:PORT
                   CONFIG_BOOTSTRAP_SERVER_HOST/_PORT: where `keys ca` asks, HOST
                   being the TLS name the server's certificate carries (default
                   localhost:1443; the board's Kconfig default 192.0.2.2 is QEMU's
                   view of the host)
  --azure-format SIGN1|ENCRYPT0
                   CONFIG_NONSECURE_AZURE_FORMAT_*: the format of the results
                   `azure start` publishes (default SIGN1)
  --azure-period S CONFIG_NONSECURE_AZURE_PERIOD: seconds between published results,
                   0 to 86400 (default 10; `azure period` changes it)
  --azure-queue N  CONFIG_NONSECURE_AZURE_QUEUE: results kept while offline, 1 to
                   1024 (default 32)
  --azure-keep-alive S
                   CONFIG_NONSECURE_AZURE_KEEP_ALIVE: MQTT keep-alive in seconds, 0
                   to 65535 (default 60)
  --azure-trace FILE
                   append `<unix ms> <SHA-256 of the payload>` to FILE for every
                   result PUBLISH the device writes to the broker (benchmarks)
  -c COMMANDS      run these ';'-separated commands, then exit

Exit status: 0 when every command succeeded, 1 when one failed or the device
could not boot, 2 for bad arguments.
";

/// What the secure image is built with, on the device; flags here.
const DEFAULT_ORG: &str = "Linaro";
/// The emulation runs on the host the bootstrap CA runs on.
const DEFAULT_BOOTSTRAP_SERVER: &str = "localhost:1443";

struct Options {
    state: PathBuf,
    huk: Option<[u8; platform::HUK_LEN]>,
    label_extra: String,
    org: String,
    recipient: [u8; 65],
    verify_sign: bool,
    infer_get_max_steps: u32,
    bootstrap_creds: Option<PathBuf>,
    bootstrap_server: (String, u16),
    azure_format: u32,
    azure_period_s: u32,
    azure_queue: u32,
    azure_keep_alive_s: u16,
    azure_trace: Option<PathBuf>,
    commands: Option<String>,
    /// Internal: run as the secure process on this socket.
    secure_socket: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        state: PathBuf::from("device-state"),
        huk: None,
        label_extra: String::new(),
        org: DEFAULT_ORG.into(),
        recipient: partitions::inference::BUILD_RECIPIENT,
        verify_sign: false,
        infer_get_max_steps: ns_app::shell::INFER_GET_MAX_STEPS,
        bootstrap_creds: None,
        bootstrap_server: device_sim::https::parse_server(DEFAULT_BOOTSTRAP_SERVER)?,
        azure_format: secure_api::inference::FORMAT_SIGN1,
        azure_period_s: ns_app::shell::AZURE_PERIOD,
        azure_queue: ns_app::shell::AZURE_QUEUE,
        azure_keep_alive_s: ns_app::shell::AZURE_KEEP_ALIVE,
        azure_trace: None,
        commands: None,
        secure_socket: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--state" => opts.state = value()?.into(),
            "--huk" => opts.huk = Some(platform::parse_huk(&value()?).map_err(|e| e.to_string())?),
            "--huk-file" => {
                let path = value()?;
                let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
                opts.huk = Some(
                    bytes.try_into().map_err(|_| format!("{path}: a HUK is {} bytes", platform::HUK_LEN))?,
                );
            }
            "--label-extra" => {
                let extra = value()?;
                device_identity::LabelExtra::new(&extra).map_err(|_| {
                    format!("--label-extra {extra:?}: HUK_DERIV_LABEL_EXTRA must be at most 15 characters, without NUL")
                })?;
                opts.label_extra = extra;
            }
            "--org" => opts.org = value()?,
            "--recipient" => {
                let hex = value()?;
                opts.recipient = partitions::inference::parse_point_hex(hex.trim()).ok_or_else(|| {
                    format!(
                        "--recipient {hex:?}: want an uncompressed P-256 point, 130 hex digits starting 04"
                    )
                })?;
            }
            "--verify-sign" => opts.verify_sign = true,
            "--infer-get-max-steps" => {
                let text = value()?;
                opts.infer_get_max_steps = text.parse().ok().filter(|n| (1..=65535).contains(n)).ok_or_else(|| {
                    format!("--infer-get-max-steps {text:?}: CONFIG_NONSECURE_INFER_GET_MAX_STEPS is 1 to 65535")
                })?;
            }
            "--bootstrap-creds" => opts.bootstrap_creds = Some(value()?.into()),
            "--bootstrap-server" => opts.bootstrap_server = device_sim::https::parse_server(&value()?)?,
            "--azure-format" => {
                opts.azure_format = match value()?.as_str() {
                    "SIGN1" => secure_api::inference::FORMAT_SIGN1,
                    "ENCRYPT0" => secure_api::inference::FORMAT_ENCRYPT0,
                    other => return Err(format!("--azure-format {other:?}: SIGN1 or ENCRYPT0")),
                }
            }
            "--azure-period" => {
                let text = value()?;
                opts.azure_period_s = text
                    .parse()
                    .ok()
                    .filter(|s| *s <= ns_app::azure::PERIOD_MAX_S)
                    .ok_or_else(|| format!("--azure-period {text:?}: seconds, 0 to 86400"))?;
            }
            "--azure-queue" => {
                let text = value()?;
                opts.azure_queue = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| format!("--azure-queue {text:?}: 1 to 1024 results"))?;
            }
            "--azure-keep-alive" => {
                let text = value()?;
                opts.azure_keep_alive_s =
                    text.parse().map_err(|_| format!("--azure-keep-alive {text:?}: seconds, 0 to 65535"))?;
            }
            "--azure-trace" => opts.azure_trace = Some(value()?.into()),
            "-c" => opts.commands = Some(value()?),
            "--secure-socket" => opts.secure_socket = Some(value()?.into()),
            // The secure process's own: the HUK arrives on its stdin, not in its command
            // line, which every user of the host can read (/proc/<pid>/cmdline).
            "--huk-stdin" => {
                let mut hex = zeroize::Zeroizing::new(String::new());
                std::io::stdin().read_line(&mut hex).map_err(|e| format!("--huk-stdin: {e}"))?;
                opts.huk = Some(platform::parse_huk(&hex).map_err(|_| "--huk-stdin: not a HUK".to_string())?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(opts) if opts.secure_socket.is_some() => secure_main(opts),
        Ok(opts) => ns_main(opts),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("device-sim: {e}");
            }
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The secure process (`--secure-socket PATH`, started by the non-secure one).
fn secure_main(opts: Options) -> ExitCode {
    let Some(socket) = opts.secure_socket else { return ExitCode::from(2) };
    println!("[Sec Thread] Secure image initializing!");
    println!(
        "Booting TF-M emulation: secure-inference {} (PSA FF-M 1.1, host process)",
        env!("CARGO_PKG_VERSION")
    );
    let platform = match Platform::open(&opts.state, opts.huk) {
        Ok(p) => p,
        Err(e) => {
            println!("[Sec Thread] platform: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("[Sec Thread] HUK: {}", platform.huk_origin);
    let Ok(label_extra) = device_identity::LabelExtra::new(&opts.label_extra) else {
        return ExitCode::from(2);
    };
    // The organisation lives as long as the process, as a build-time string would.
    let config =
        SecureConfig { label_extra, org: Box::leak(opts.org.into_boxed_str()), recipient: opts.recipient };
    let (services, log) = match device_sim::secure::services(&platform, &config) {
        Ok(s) => s,
        Err(e) => {
            println!("[Sec Thread] storage: {e}");
            return ExitCode::FAILURE;
        }
    };
    for line in log {
        println!("{line}");
    }
    let spm = Spm::new(services);
    for info in spm.services() {
        println!("[Sec Thread] {}: SID {:#010x} version {} ready", info.name, info.sid.0, info.version);
    }
    let _ = std::fs::remove_file(&socket);
    let listener = match UnixListener::bind(&socket) {
        Ok(l) => l,
        Err(e) => {
            println!("[Sec Thread] cannot listen on {}: {e}", socket.display());
            return ExitCode::FAILURE;
        }
    };
    let _ = std::io::stdout().flush();
    device_sim::secure::serve(listener, Arc::new(Mutex::new(spm)));
    ExitCode::FAILURE
}

/// Removes the sockets of earlier device-sim processes that are gone (killed before
/// they could remove their own): `secure-<pid>.sock` with no process `<pid>`. A live
/// one's socket stays, whoever it is.
fn remove_dead_sockets(state: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(state) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("secure-")?.strip_suffix(".sock")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Starts the secure process and waits until it accepts connections.
fn boot_secure(opts: &Options, socket: &std::path::Path) -> Result<(Child, SocketClient), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("--secure-socket").arg(socket).arg("--state").arg(&opts.state).stdin(Stdio::null());
    cmd.args(["--label-extra", &opts.label_extra, "--org", &opts.org]);
    cmd.arg("--recipient").arg(opts.recipient.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if opts.huk.is_some() {
        cmd.arg("--huk-stdin").stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start the secure process: {e}"))?;
    if let (Some(huk), Some(mut stdin)) = (opts.huk, child.stdin.take()) {
        let hex = zeroize::Zeroizing::new(huk.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n");
        // Dropping `stdin` closes the pipe: the secure process reads one line.
        if let Err(e) = stdin.write_all(hex.as_bytes()) {
            let _ = child.kill();
            return Err(format!("cannot give the secure process its HUK: {e}"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(client) = SocketClient::connect(socket) {
            return Ok((child, client));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the secure process ended during boot ({status})"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the secure process did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ns_main(opts: Options) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&opts.state) {
        eprintln!("device-sim: {}: {e}", opts.state.display());
        return ExitCode::FAILURE;
    }
    // A socket of this process's own: a second device-sim on the same state directory
    // must neither remove the first one's socket nor talk to its secure process (its
    // own secure process refuses the locked directory and the boot fails).
    let socket = opts.state.join(format!("secure-{}.sock", std::process::id()));
    remove_dead_sockets(&opts.state);
    // The credentials are read before the boot: a bad file is a usage error.
    let https = match &opts.bootstrap_creds {
        Some(dir) => match device_sim::https::Bootstrap::from_dir(dir) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("device-sim: --bootstrap-creds: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let (mut child, mut client) = match boot_secure(&opts, &socket) {
        Ok(booted) => booted,
        Err(e) => {
            eprintln!("device-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("*** Booting secure-inference {} (non-secure, host emulation) ***", ns_app::VERSION);
    let (host, port) = opts.bootstrap_server.clone();
    let mut shell = Shell::with_config(ns_app::shell::Config {
        verify_sign: opts.verify_sign,
        infer_get_max_steps: opts.infer_get_max_steps,
        // The host lives as long as the process, as a Kconfig string would.
        bootstrap_host: Box::leak(host.into_boxed_str()),
        bootstrap_port: port,
        azure_format: opts.azure_format,
        azure_period_s: opts.azure_period_s,
        azure_queue: opts.azure_queue,
        azure_keep_alive_s: opts.azure_keep_alive_s,
        ..ns_app::shell::Config::default()
    });
    if let Some(bootstrap) = https {
        // The publisher trusts the CA certificate `keys ca` does.
        let home = device_sim::mqtt::AzureHome::new(&socket, bootstrap.trust_anchor());
        let home = match &opts.azure_trace {
            Some(path) => home.with_trace(path),
            None => home,
        };
        shell.azure = Some(Box::new(home));
        shell.https = Some(Box::new(bootstrap));
    }
    let ok = if let Some(script) = &opts.commands {
        run_script(&mut shell, &mut client, script.split(';').map(|c| Ok(Line::new(c.as_bytes()))))
    } else if std::io::stdin().is_terminal() {
        device_sim::shell::interactive(&mut shell, &mut client);
        true
    } else {
        run_script(&mut shell, &mut client, device_sim::shell::lines(std::io::stdin().lock()))
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&socket);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs scripted commands, echoing each after the prompt as a terminal would show it.
/// Fails if any command failed or any line was refused (too long for the device's
/// command buffer, or not UTF-8: the lines after it still run), and at once if the
/// input cannot be read.
fn run_script(
    shell: &mut Shell,
    client: &mut SocketClient,
    lines: impl Iterator<Item = std::io::Result<Line>>,
) -> bool {
    let mut ok = true;
    let stdout = std::io::stdout();
    for (number, line) in (1..).zip(lines) {
        let line = match line {
            Ok(Line::Command(line)) => line,
            Ok(refused) => {
                let _ = writeln!(stdout.lock(), "error: line {number}: {refused}");
                ok = false;
                continue;
            }
            Err(e) => {
                let _ = writeln!(stdout.lock(), "error: line {number}: cannot read it: {e}");
                return false;
            }
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut out = stdout.lock();
        let _ = writeln!(out, "{PROMPT}{line}");
        ok &= shell.execute(line, client, &mut out).is_ok();
        if let Some(why) = client.broken() {
            let _ = writeln!(out, "error: {why}");
            return false;
        }
    }
    ok
}
