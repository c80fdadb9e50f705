//! The application's command tree, as data: each home registers it with its shell.

use core::fmt::Write;

/// What a command reaches: the secure world, and the network if the home has one.
pub struct Context<'a> {
    pub client: &'a mut dyn psa::Client,
    pub config: &'a Config,
    /// The bootstrap server over HTTPS (`keys ca`); `None` where the home has no
    /// network (the Zephyr app until its networking lands).
    pub https: Option<&'a dyn crate::bootstrap::Https>,
    /// The MQTT publisher's network and thread (`azure`); `None` where the home has
    /// none.
    pub azure: Option<&'a dyn crate::azure::Azure>,
    /// The input tensor `infer put` writes, kept between commands; `None` where the
    /// home keeps none.
    pub tensor: Option<&'a mut crate::infer::tensor::TensorInput>,
}

/// The application's build-time options (Kconfig on the device, flags in the host
/// emulation).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// `CONFIG_NONSECURE_COSE_VERIFY_SIGN`: `infer get` verifies SIGN1 results with the
    /// exported COSE SIGN public key before printing them.
    pub verify_sign: bool,
    /// `CONFIG_SECURE_INFER_DEFAULT_FORMAT_*`: the format of `infer get` when the
    /// command names none (`secure_api::inference::FORMAT_*`).
    pub default_format: u32,
    /// `CONFIG_NONSECURE_INFER_GET_MAX_STEPS`: the most angles one `infer get` asks
    /// the secure world for (each is an inference, and every 32nd a storage write).
    pub infer_get_max_steps: u32,
    /// `CONFIG_BOOTSTRAP_SERVER_HOST`: the bootstrap CA's name, as the `Host` header
    /// and TLS name give it.
    pub bootstrap_host: &'static str,
    /// `CONFIG_BOOTSTRAP_SERVER_PORT`.
    pub bootstrap_port: u16,
    /// `CONFIG_NONSECURE_AZURE_FORMAT_*`: the format of published results,
    /// `FORMAT_SIGN1` or `FORMAT_ENCRYPT0`.
    pub azure_format: u32,
    /// `CONFIG_NONSECURE_AZURE_PERIOD`: seconds between published results
    /// (`azure period` changes it while running).
    pub azure_period_s: u32,
    /// `CONFIG_NONSECURE_AZURE_QUEUE`: results kept while offline.
    pub azure_queue: u32,
    /// `CONFIG_NONSECURE_AZURE_KEEP_ALIVE`: MQTT keep-alive, seconds.
    pub azure_keep_alive_s: u16,
}

/// The Kconfig default of [`Config::infer_get_max_steps`]: 0 to 359 by 1.
pub const INFER_GET_MAX_STEPS: u32 = 360;
/// The Kconfig default of [`Config::bootstrap_host`]: the host as QEMU's user network
/// and Zephyr's net-tools show it to the board (the original sample's address).
pub const BOOTSTRAP_SERVER_HOST: &str = "192.0.2.2";
/// The Kconfig default of [`Config::bootstrap_port`]: liteboot's port.
pub const BOOTSTRAP_SERVER_PORT: u16 = 1443;
/// The Kconfig default of [`Config::azure_period_s`].
pub const AZURE_PERIOD: u32 = 10;
/// The Kconfig default of [`Config::azure_queue`].
pub const AZURE_QUEUE: u32 = 32;
/// The Kconfig default of [`Config::azure_keep_alive_s`].
pub const AZURE_KEEP_ALIVE: u16 = 60;

impl Default for Config {
    fn default() -> Self {
        Config {
            verify_sign: false,
            default_format: secure_api::inference::FORMAT_SIGN1,
            infer_get_max_steps: INFER_GET_MAX_STEPS,
            bootstrap_host: BOOTSTRAP_SERVER_HOST,
            bootstrap_port: BOOTSTRAP_SERVER_PORT,
            azure_format: secure_api::inference::FORMAT_SIGN1,
            azure_period_s: AZURE_PERIOD,
            azure_queue: AZURE_QUEUE,
            azure_keep_alive_s: AZURE_KEEP_ALIVE,
        }
    }
}

/// A command failed; its message was already written (Zephyr's -EINVAL and friends).
#[derive(Debug, PartialEq, Eq)]
pub struct Failed;

pub type Handler = fn(&mut Context<'_>, &[&str], &mut dyn Write) -> Result<(), Failed>;

/// One node of the command tree (Zephyr's `SHELL_CMD_ARG`).
pub struct Command {
    pub name: &'static str,
    pub help: &'static str,
    /// The arguments after the command's name, for help and usage errors.
    pub usage: &'static str,
    /// Mandatory and optional argument counts.
    pub args: (usize, usize),
    pub subcommands: &'static [Command],
    pub handler: Option<Handler>,
}

/// The command at `path`, its names separated by spaces (`"infer get"`).
pub fn find(path: &str) -> Option<&'static Command> {
    let mut level = COMMANDS;
    let mut found = None;
    for word in path.split(' ') {
        let cmd = level.iter().find(|c| c.name == word)?;
        level = cmd.subcommands;
        found = Some(cmd);
    }
    found
}

/// A leaf command.
const fn leaf(
    name: &'static str,
    help: &'static str,
    usage: &'static str,
    args: (usize, usize),
    handler: Handler,
) -> Command {
    Command { name, help, usage, args, subcommands: &[], handler: Some(handler) }
}

/// A command that only groups subcommands.
const fn group(name: &'static str, help: &'static str, subcommands: &'static [Command]) -> Command {
    Command { name, help, usage: "", args: (0, 0), subcommands, handler: None }
}

/// The application's commands.
pub static COMMANDS: &[Command] = &[
    group(
        "azure",
        "Publish results to an MQTT broker in Azure IoT Hub's form (docs/mqtt.md)",
        &[
            leaf(
                "period",
                "Seconds between published results (0: nonce requests only)",
                "<seconds>",
                (1, 0),
                crate::azure::period,
            ),
            leaf(
                "start",
                "Connect with the 0x5001 certificate and publish results (needs keys ca 5001 and 5002)",
                "",
                (0, 0),
                crate::azure::start,
            ),
            leaf("status", "Connection, counters, TLS signatures", "", (0, 0), crate::azure::status),
            leaf("stop", "Disconnect and stop publishing", "", (0, 0), crate::azure::stop),
            leaf(
                "wait",
                "Block until n results of this run are acknowledged (default 60 s)",
                "<n> [seconds]",
                (1, 1),
                crate::azure::wait,
            ),
        ],
    ),
    group(
        "info",
        "Device information",
        &[
            leaf("uuid", "The device UUID, derived from the HUK", "", (0, 0), crate::info::uuid),
            leaf("version", "Firmware and secure service versions", "", (0, 0), crate::info::version),
        ],
    ),
    group(
        "infer",
        "Inference in the secure world",
        &[
            leaf(
                "get",
                "Run a model on angles in degrees (0..359), or on a whole input tensor (a sample: zeros, ramp, noise; or the one infer put wrote); print the result as the secure world encoded it",
                "<model> [CBOR|SIGN1|ENCRYPT0] <start> [stop] [stride] | <model> [CBOR|SIGN1|ENCRYPT0] <sample|tensor>",
                (2, 3),
                crate::infer::get,
            ),
            leaf("model", "The models in the secure image", "", (0, 0), crate::infer::model),
            leaf(
                "put",
                "Write up to 100 bytes of the input tensor (hex) at a byte offset, for infer get <model> tensor",
                "<offset> <hex>",
                (2, 0),
                crate::infer::tensor::put,
            ),
            leaf("clear", "Empty the input tensor", "", (0, 0), crate::infer::tensor::clear),
            leaf("tensor", "The input tensor's length and SHA-256", "", (0, 0), crate::infer::tensor::show),
        ],
    ),
    group(
        "keys",
        "Device keys (derived from the HUK in the secure world)",
        &[
            leaf(
                "ca",
                "Request a certificate for a key (5001 or 5002) from the bootstrap CA and store it in Protected Storage",
                "<keyid>",
                (1, 0),
                crate::bootstrap::ca,
            ),
            leaf("cert", "The stored certificate of a key as PEM", "<keyid>", (1, 0), crate::bootstrap::cert),
            leaf(
                "csr",
                "Generate a CSR for a key, built and signed in the secure world",
                "<PEM|JSON|PEM_JSON> <keyid>",
                (2, 0),
                crate::keys::csr,
            ),
            leaf("public", "Public key(s) as PEM", "[keyid]", (0, 1), crate::keys::public),
            leaf("status", "Status of each key", "", (0, 0), crate::keys::status),
        ],
    ),
];
