//! The emulated Zephyr shell: prompt `uart:~$`, built-in `help` and `history`, the
//! application's command tree ([`ns_app::shell::COMMANDS`]), `-h`/`--help` on any
//! command, and Zephyr's usage errors. [`Shell::execute`] is sans-IO; [`interactive`]
//! adds line editing, tab completion and history on a terminal.

use ns_app::shell::{Command, Config, Context, Failed, COMMANDS};
use std::io::Write;

pub const PROMPT: &str = "uart:~$ ";

const BUILTINS: &[(&str, &str)] = &[("help", "Prints the help message."), ("history", "Command history.")];

#[derive(Default)]
pub struct Shell {
    pub history: Vec<String>,
    pub config: Config,
}

impl Shell {
    pub fn new() -> Self {
        Shell::default()
    }

    pub fn with_config(config: Config) -> Self {
        Shell { history: Vec::new(), config }
    }

    /// Runs one line; output and errors go to `out`, as on the device's UART.
    pub fn execute(
        &mut self,
        line: &str,
        client: &mut dyn psa::Client,
        out: &mut dyn Write,
    ) -> Result<(), Failed> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&first) = words.first() else {
            return Ok(());
        };
        self.history.push(words.join(" "));
        match first {
            "help" => {
                print_help_overview(out);
                return Ok(());
            }
            "history" => {
                for (i, h) in self.history.iter().enumerate().rev() {
                    let _ = writeln!(out, "[{:3}] {h}", self.history.len() - 1 - i);
                }
                return Ok(());
            }
            _ => {}
        }
        let mut level = COMMANDS;
        let mut path = Vec::new();
        let mut node: Option<&Command> = None;
        let mut rest = &words[..];
        while let Some((word, tail)) = rest.split_first() {
            let Some(cmd) = level.iter().find(|c| c.name == *word) else {
                break;
            };
            path.push(cmd.name);
            node = Some(cmd);
            level = cmd.subcommands;
            rest = tail;
        }
        let Some(cmd) = node else {
            let _ = writeln!(out, "{first}: command not found");
            return Err(Failed);
        };
        let path = path.join(" ");
        if rest.first().is_some_and(|w| *w == "-h" || *w == "--help") {
            print_help(cmd, &path, out);
            return Ok(());
        }
        let Some(handler) = cmd.handler else {
            if let Some(bad) = rest.first() {
                let _ = writeln!(out, "{path}: {bad}: unknown parameter");
            }
            print_help(cmd, &path, out);
            return Err(Failed);
        };
        let (mandatory, optional) = cmd.args;
        if rest.len() < mandatory || rest.len() > mandatory + optional {
            let _ = writeln!(out, "{path}: wrong parameter count");
            print_help(cmd, &path, out);
            return Err(Failed);
        }
        let mut text = String::new();
        let result = handler(&mut Context { client, config: &self.config }, rest, &mut text);
        let _ = out.write_all(text.as_bytes());
        result
    }

    /// Candidates for the word being typed at the end of `line`.
    pub fn complete(&self, line: &str) -> Vec<&'static str> {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let partial = if line.is_empty() || line.ends_with(' ') { "" } else { words.pop().unwrap_or("") };
        let mut names: Vec<&'static str> = Vec::new();
        let mut level = COMMANDS;
        if words.is_empty() {
            names.extend(BUILTINS.iter().map(|(n, _)| *n));
        }
        for w in &words {
            match level.iter().find(|c| c.name == *w) {
                Some(cmd) => level = cmd.subcommands,
                None => return Vec::new(),
            }
        }
        names.extend(level.iter().map(|c| c.name));
        names.sort_unstable();
        names.retain(|n| n.starts_with(partial));
        names
    }
}

/// Zephyr's `help`: how to get more, then every root command.
fn print_help_overview(out: &mut dyn Write) {
    let _ = writeln!(out, "Please press the <Tab> button to see all available commands.");
    let _ = writeln!(
        out,
        "You can also use the <Tab> button to prompt or auto-complete all commands or its subcommands."
    );
    let _ =
        writeln!(out, "You can try to call commands with <-h> or <--help> parameter for more information.\n");
    let _ = writeln!(out, "Available commands:");
    let mut all: Vec<(&str, &str)> = BUILTINS.to_vec();
    all.extend(COMMANDS.iter().map(|c| (c.name, c.help)));
    all.sort_unstable();
    print_rows(&all, out);
}

/// `<cmd> -h`: the command and its help, then its subcommands.
pub fn print_help(cmd: &Command, path: &str, out: &mut dyn Write) {
    let usage = if cmd.usage.is_empty() { String::new() } else { format!(" {}", cmd.usage) };
    let _ = writeln!(out, "{path}{usage} - {}", cmd.help);
    if !cmd.subcommands.is_empty() {
        let _ = writeln!(out, "Subcommands:");
        let rows: Vec<(&str, &str)> = cmd.subcommands.iter().map(|c| (c.name, c.help)).collect();
        print_rows(&rows, out);
    }
}

fn print_rows(rows: &[(&str, &str)], out: &mut dyn Write) {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, help) in rows {
        let _ = writeln!(out, "  {name:<width$} : {help}");
    }
}

/// The interactive prompt: line editing, tab completion and history (rustyline).
pub fn interactive(shell: &mut Shell, client: &mut crate::client::SocketClient) {
    use rustyline::error::ReadlineError;
    let helper = Completion { names: Shell::new() };
    let Ok(mut editor) = rustyline::Editor::<Completion, rustyline::history::DefaultHistory>::new() else {
        eprintln!("device-sim: this terminal cannot be used interactively");
        return;
    };
    editor.set_helper(Some(helper));
    loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                let mut out = std::io::stdout().lock();
                let _ = shell.execute(&line, client, &mut out);
                if let Some(why) = client.broken() {
                    let _ = writeln!(out, "error: {why}");
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
}

struct Completion {
    names: Shell,
}

impl rustyline::completion::Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let line = &line[..pos];
        let start = line.rfind(' ').map_or(0, |i| i + 1);
        let candidates = self.names.complete(line).into_iter().map(|n| format!("{n} ")).collect();
        Ok((start, candidates))
    }
}

impl rustyline::hint::Hinter for Completion {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Completion {}
impl rustyline::validate::Validator for Completion {}
impl rustyline::Helper for Completion {}
