//! The application's command tree, as data: each home registers it with its shell.

use core::fmt::Write;

/// What a command reaches: the secure world.
pub struct Context<'a> {
    pub client: &'a mut dyn psa::Client,
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

/// The application's commands.
pub static COMMANDS: &[Command] = &[Command {
    name: "info",
    help: "Device information",
    usage: "",
    args: (0, 0),
    subcommands: &[Command {
        name: "version",
        help: "Firmware and secure service versions",
        usage: "",
        args: (0, 0),
        subcommands: &[],
        handler: Some(crate::info::version),
    }],
    handler: None,
}];
