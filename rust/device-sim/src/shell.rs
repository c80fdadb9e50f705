//! The emulated Zephyr shell: prompt `uart:~$`, built-in `help` and `history`, the
//! application's command tree ([`ns_app::shell::COMMANDS`]), `-h`/`--help` on any
//! command, and Zephyr's usage errors. [`Shell::execute`] is sans-IO; [`lines`] reads
//! a script with the device's bounds; [`interactive`] adds line editing, tab
//! completion and history on a terminal.

use ns_app::shell::{Command, Config, Context, Failed, COMMANDS};
use std::collections::VecDeque;
use std::io::{BufRead, Write};

pub const PROMPT: &str = "uart:~$ ";

/// `CONFIG_SHELL_CMD_BUFF_SIZE` (prj.conf, Zephyr's default): the device's command
/// buffer, whose last byte holds the terminating NUL.
pub const CMD_BUFF_SIZE: usize = 256;
/// The longest command line the device's shell holds, in bytes.
pub const LINE_MAX: usize = CMD_BUFF_SIZE - 1;
/// `CONFIG_SHELL_HISTORY_BUFFER` (Zephyr's default): bytes for past commands.
pub const HISTORY_BUFFER: usize = 512;
/// What a past command costs beside its text: about what Zephyr spends on its
/// `struct shell_history_item` (list node and length) on a 32-bit target.
pub const HISTORY_ITEM_OVERHEAD: usize = 12;

const BUILTINS: &[(&str, &str)] = &[("help", "Prints the help message."), ("history", "Command history.")];

#[derive(Default)]
pub struct Shell {
    pub history: History,
    pub config: Config,
    /// The bootstrap server, when `--bootstrap-creds` gave the credentials.
    pub https: Option<Box<dyn ns_app::bootstrap::Https>>,
    /// The MQTT publisher, when `--bootstrap-creds` gave the CA certificate.
    pub azure: Option<Box<dyn ns_app::azure::Azure>>,
    /// What `infer put` wrote, for `infer get <model> tensor`.
    pub tensor: Box<ns_app::infer::tensor::TensorInput>,
}

impl Shell {
    pub fn new() -> Self {
        Shell::default()
    }

    pub fn with_config(config: Config) -> Self {
        Shell { config, ..Shell::default() }
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
        self.history.push(&words.join(" "));
        match first {
            "help" => {
                print_help_overview(out);
                return Ok(());
            }
            "history" => {
                for (i, h) in self.history.iter().enumerate() {
                    let _ = writeln!(out, "[{i:3}] {h}");
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
        let result = handler(
            &mut Context {
                client,
                config: &self.config,
                https: self.https.as_deref(),
                azure: self.azure.as_deref(),
                tensor: Some(&mut self.tensor),
            },
            rest,
            &mut text,
        );
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

/// The commands run, as Zephyr's shell keeps them: in [`HISTORY_BUFFER`] bytes, each
/// costing its text and [`HISTORY_ITEM_OVERHEAD`]; the oldest go to make room, and a
/// command equal to the one before is not kept twice.
#[derive(Debug, Default)]
pub struct History {
    /// Newest first.
    entries: VecDeque<String>,
    bytes: usize,
}

impl History {
    pub fn push(&mut self, line: &str) {
        let cost = line.len() + HISTORY_ITEM_OVERHEAD;
        if line.is_empty() || cost > HISTORY_BUFFER || self.entries.front().is_some_and(|l| l == line) {
            return;
        }
        while self.bytes + cost > HISTORY_BUFFER {
            let Some(oldest) = self.entries.pop_back() else { break };
            self.bytes -= oldest.len() + HISTORY_ITEM_OVERHEAD;
        }
        self.entries.push_front(line.to_owned());
        self.bytes += cost;
    }

    /// Newest first, as `history` prints them.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.entries.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the entries cost, at most [`HISTORY_BUFFER`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// One line of a script, as the device's shell would take it.
///
/// Zephyr's shell keeps the first [`LINE_MAX`] bytes of a longer line and drops the
/// rest, and drops bytes that are not printable ASCII; it then runs what is left.
/// The emulation refuses such a line instead: a cut or filtered line could run as
/// another command.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A command line, without its line end.
    Command(String),
    /// Longer than [`LINE_MAX`] bytes (its line end not counted): not run, and its
    /// bytes were dropped as they were read.
    TooLong { len: u64 },
    /// Not UTF-8: the first bad `byte` is at `offset` in the line. Not run.
    NotUtf8 { offset: usize, byte: u8 },
}

impl Line {
    /// A line given whole (one of `-c`'s commands), checked as a read one is.
    pub fn new(bytes: &[u8]) -> Line {
        if bytes.len() > LINE_MAX {
            return Line::TooLong { len: bytes.len() as u64 };
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Line::Command(text.to_owned()),
            Err(e) => Line::NotUtf8 { offset: e.valid_up_to(), byte: bytes[e.valid_up_to()] },
        }
    }
}

/// The command, or why the line is not run.
impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Command(text) => f.write_str(text),
            Line::TooLong { len } => write!(
                f,
                "{len} bytes, over the {LINE_MAX} of the shell's command buffer \
                 (CONFIG_SHELL_CMD_BUFF_SIZE={CMD_BUFF_SIZE}): not run"
            ),
            Line::NotUtf8 { offset, byte } => {
                write!(f, "not UTF-8 (byte {byte:#04x} at offset {offset}): not run")
            }
        }
    }
}

/// The lines of a script read from `input`, split at `\n` (a `\r` before it is
/// dropped), the last one with or without its `\n`. Whatever a line's length, at
/// most [`LINE_MAX`] + 1 of its bytes are kept: a line without end costs no memory.
pub fn lines<R: BufRead>(input: R) -> Lines<R> {
    Lines { input, line: Vec::with_capacity(LINE_MAX + 1) }
}

/// See [`lines`].
pub struct Lines<R> {
    input: R,
    /// The current line's first bytes.
    line: Vec<u8>,
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        self.line.clear();
        // The line's length and its last byte, counted past what is kept.
        let (mut len, mut last) = (0u64, None);
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if chunk.is_empty() {
                if len == 0 {
                    return None;
                }
                break;
            }
            let end = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..end.unwrap_or(chunk.len())];
            let room = (LINE_MAX + 1).saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            len += part.len() as u64;
            last = part.last().copied().or(last);
            let used = part.len() + usize::from(end.is_some());
            self.input.consume(used);
            if end.is_some() {
                break;
            }
        }
        if last == Some(b'\r') {
            len -= 1;
            if self.line.len() as u64 > len {
                self.line.pop();
            }
        }
        Some(Ok(if len > LINE_MAX as u64 { Line::TooLong { len } } else { Line::new(&self.line) }))
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
                let mut out = std::io::stdout().lock();
                match Line::new(line.as_bytes()) {
                    Line::Command(line) => {
                        let _ = shell.execute(&line, client, &mut out);
                    }
                    refused => {
                        let _ = writeln!(out, "error: {refused}");
                        continue;
                    }
                }
                // The arrow keys recall what the device's history would hold.
                let _ = editor.clear_history();
                for entry in shell.history.iter().rev() {
                    let _ = editor.add_history_entry(entry);
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A secure world that `help` and `history` never reach.
    struct Unreachable;

    impl psa::Client for Unreachable {
        fn framework_version(&mut self) -> u32 {
            unreachable!()
        }
        fn version(&mut self, _: psa::Sid) -> u32 {
            unreachable!()
        }
        fn connect(&mut self, _: psa::Sid, _: u32) -> Result<psa::Handle, psa::Status> {
            unreachable!()
        }
        fn call(
            &mut self,
            _: psa::Handle,
            _: i32,
            _: &[&[u8]],
            _: &mut [&mut [u8]],
        ) -> Result<psa::Reply, psa::Status> {
            unreachable!()
        }
        fn close(&mut self, _: psa::Handle) {}
    }

    #[test]
    fn history_keeps_what_zephyrs_512_bytes_hold() {
        let mut shell = Shell::new();
        let mut out = Vec::new();
        for i in 0..1000 {
            // 20 bytes each, 32 with the item's header: 16 fit in 512 bytes.
            shell.execute(&format!("help {i:015}"), &mut Unreachable, &mut out).unwrap();
        }
        // Zephyr does not store a command equal to the one before.
        shell.execute("help 000000000000999", &mut Unreachable, &mut out).unwrap();
        out.clear();
        shell.execute("history", &mut Unreachable, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 16, "{text}");
        assert_eq!(lines[0], "[  0] history");
        assert_eq!(lines[1], "[  1] help 000000000000999");
        assert_eq!(lines[15], "[ 15] help 000000000000985");
    }

    fn read_all(input: &[u8]) -> Vec<Line> {
        lines(input).map(Result::unwrap).collect()
    }

    fn command(text: &str) -> Line {
        Line::Command(text.into())
    }

    #[test]
    fn lines_end_at_lf_and_a_cr_before_it_is_dropped() {
        assert_eq!(
            read_all(b"info uuid\r\ninfo version\n\n  \r\nlast"),
            [command("info uuid"), command("info version"), command(""), command("  "), command("last")]
        );
        assert_eq!(read_all(b""), []);
        assert_eq!(read_all(b"\n"), [command("")]);
        // Only the CR of a line end goes: one inside the line is the command's.
        assert_eq!(read_all(b"a\rb\r\r\n"), [command("a\rb\r")]);
    }

    #[test]
    fn a_line_of_255_bytes_is_a_command_and_one_of_256_is_refused() {
        let line = |n: usize, end: &str| [vec![b'x'; n], end.as_bytes().to_vec()].concat();
        let script =
            [line(255, "\n"), line(256, "\n"), line(257, "\n"), line(255, "\r\n"), line(256, "\r\n")];
        let x = |n: usize| command(&"x".repeat(n));
        assert_eq!(
            read_all(&script.concat()),
            [
                x(255),
                Line::TooLong { len: 256 },
                Line::TooLong { len: 257 },
                x(255),
                Line::TooLong { len: 256 }
            ]
        );
        // The same bound for a line given whole (a `-c` command).
        assert_eq!(Line::new(&[b'x'; 255]), x(255));
        assert_eq!(Line::new(&[b'x'; 256]), Line::TooLong { len: 256 });
    }

    #[test]
    fn a_line_of_a_mebibyte_is_refused_without_being_kept() {
        use std::io::Read;
        let endless = std::io::repeat(b'a').take(1 << 20).chain(&b"\r\ninfo uuid\n"[..]);
        let mut lines = lines(std::io::BufReader::with_capacity(4096, endless));
        assert_eq!(lines.next().unwrap().unwrap(), Line::TooLong { len: 1 << 20 });
        assert!(lines.line.capacity() <= CMD_BUFF_SIZE, "kept {} bytes", lines.line.capacity());
        assert_eq!(lines.next().unwrap().unwrap(), command("info uuid"));
        assert!(lines.next().is_none());
        assert_eq!(
            Line::TooLong { len: 1 << 20 }.to_string(),
            "1048576 bytes, over the 255 of the shell's command buffer (CONFIG_SHELL_CMD_BUFF_SIZE=256): not run"
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_and_the_next_one_read() {
        assert_eq!(
            read_all(b"info uuid\n\xff\xfe\ninfo \xc3\n\xc3\xa9t\xc3\xa9\n"),
            [
                command("info uuid"),
                Line::NotUtf8 { offset: 0, byte: 0xff },
                // A sequence cut short by the line end.
                Line::NotUtf8 { offset: 5, byte: 0xc3 },
                command("\u{e9}t\u{e9}"),
            ]
        );
        assert_eq!(
            Line::NotUtf8 { offset: 5, byte: 0xc3 }.to_string(),
            "not UTF-8 (byte 0xc3 at offset 5): not run"
        );
        // Too long is said first, whatever the bytes.
        assert_eq!(read_all(&[0xff; 300]), [Line::TooLong { len: 300 }]);
    }

    /// Reads fail once, after an interruption that is retried.
    struct Failing(u8);

    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            self.0 += 1;
            match self.0 {
                1 => Err(std::io::ErrorKind::Interrupted.into()),
                2 => Err(std::io::Error::other("gone")),
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_read_error_is_an_error_and_an_interruption_is_retried() {
        let mut lines = lines(std::io::BufReader::new(Failing(0)));
        assert_eq!(lines.next().unwrap().unwrap_err().to_string(), "gone");
        assert!(lines.next().is_none());
    }

    #[test]
    fn the_history_drops_its_oldest_and_refuses_what_cannot_fit() {
        let mut history = History::default();
        history.push("");
        history.push(&"y".repeat(HISTORY_BUFFER - HISTORY_ITEM_OVERHEAD + 1));
        assert!(history.is_empty());
        history.push(&"y".repeat(HISTORY_BUFFER - HISTORY_ITEM_OVERHEAD));
        assert_eq!((history.len(), history.bytes()), (1, HISTORY_BUFFER));
        history.push("info uuid");
        assert_eq!(history.iter().collect::<Vec<_>>(), ["info uuid"]);
        for i in 0..100 {
            history.push(&format!("keys public {i}"));
            assert!(history.bytes() <= HISTORY_BUFFER);
        }
        assert_eq!(history.iter().next(), Some("keys public 99"));
    }
}
