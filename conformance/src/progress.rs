//! Live progress: what the run is doing now (scenario, case, step) and for how long.
//!
//! On a terminal it is one status line redrawn in place (indicatif); anywhere
//! else (a CI log, a pipe, a file) it is one plain line per scenario, per
//! case and per step, so a slow run still shows where it is. Everything goes
//! to stderr; the summary and reports are unaffected.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A live status line on a terminal, plain lines otherwise.
    Auto,
    /// The live status line even where stderr is not seen as a terminal
    /// (log viewers that render ANSI escapes).
    Always,
    /// No progress output.
    Never,
}

enum Sink {
    Bar(ProgressBar),
    Lines,
    Silent,
}

/// The run's progress display; cheap to call from every step.
pub struct Progress {
    sink: Sink,
    started: Instant,
    /// The phase or case, its step count and the last step shown, so a step
    /// line can name them.
    context: Mutex<(String, usize, usize)>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress {
    /// A display chosen by `mode` and whether stderr is a terminal.
    pub fn new(mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let sink = match (mode, terminal) {
            (ProgressMode::Never, _) => Sink::Silent,
            (ProgressMode::Auto, false) => Sink::Lines,
            (ProgressMode::Auto, true) => Sink::Bar(bar(ProgressDrawTarget::stderr_with_hz(10))),
            (ProgressMode::Always, _) => {
                Sink::Bar(bar(ProgressDrawTarget::term_like_with_hz(Box::new(AnsiStderr), 10)))
            }
        };
        Progress { sink, started: Instant::now(), context: Mutex::new((String::new(), 0, 0)) }
    }

    /// No output at all (library use, tests).
    pub fn silent() -> Progress {
        Progress { sink: Sink::Silent, started: Instant::now(), context: Mutex::new((String::new(), 0, 0)) }
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A new phase or case of `steps` steps (0 when not counted):
    /// `scenario lxd_vm_two_volumes`, `property case 3/48`.
    pub fn begin(&self, what: String, steps: usize) {
        self.show(&what);
        *self.context.lock().expect("progress lock") = (what, steps, 0);
    }

    /// The next step of the current case.
    pub fn step(&self, what: &str) {
        let line = {
            let mut c = self.context.lock().expect("progress lock");
            c.2 += 1;
            format!("{}: step {}/{} {what}", c.0, c.2, c.1)
        };
        self.show(&line);
    }

    /// A line that stays (also above a live status line).
    pub fn note(&self, line: &str) {
        match &self.sink {
            Sink::Bar(b) => b.println(line),
            Sink::Lines | Sink::Silent => eprintln!("{line}"),
        }
    }

    /// Removes the live status line before the summary is printed.
    pub fn finish(&self) {
        if let Sink::Bar(b) = &self.sink {
            b.finish_and_clear();
        }
    }

    fn show(&self, what: &str) {
        match &self.sink {
            Sink::Bar(b) => b.set_message(what.to_string()),
            Sink::Lines => {
                let s = self.started.elapsed().as_secs_f64();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "[{s:7.1}s] {what}");
            }
            Sink::Silent => {}
        }
    }
}

fn bar(target: ProgressDrawTarget) -> ProgressBar {
    let b = ProgressBar::with_draw_target(None, target);
    b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}").expect("a valid template"));
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

/// stderr as a terminal whether or not it is one, for `--progress always`
/// (indicatif's own stderr target draws nothing off a terminal).
#[derive(Debug)]
struct AnsiStderr;

impl AnsiStderr {
    fn put(&self, s: &str) -> std::io::Result<()> {
        std::io::stderr().lock().write_all(s.as_bytes())
    }

    /// Moves the cursor `n` cells in direction `code` (CSI A/B/C/D).
    fn cursor(&self, n: usize, code: char) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}{code}"))
    }
}

impl TermLike for AnsiStderr {
    fn width(&self) -> u16 {
        std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(120)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
