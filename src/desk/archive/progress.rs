//! The import's progress on a terminal: a spinner with the rows read and
//! the rate, drawn on stderr only when stderr is a terminal (a script or a
//! log gets nothing).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How often the spinner redraws on its own.
const TICK: Duration = Duration::from_millis(120);
const TEMPLATE: &str = "{spinner} {msg} {pos} rows ({per_sec}, {elapsed})";

/// A progress callback for [`super::ImportOptions::progress`].
pub fn terminal_progress(message: &str) -> impl Fn(u64) + use<> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner().with_message(message.to_owned());
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(TICK);
        bar
    });
    move |rows| {
        if let Some(bar) = &bar {
            bar.set_position(rows);
        }
    }
}
