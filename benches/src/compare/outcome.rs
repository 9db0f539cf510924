//! What a run found: for every server and workload, one outcome a round
//! (and one for each baseline a row is measured against: a command-line
//! tool, bare chromiumoxide), and how rounds are folded into the figure
//! the table shows (the median across rounds of each round's p50 and
//! p99). Saved as JSON so the doc and plots can be written again without
//! measuring again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::workload::Kind;

/// One server as measured.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Server {
    /// Column name.
    pub name: String,
    /// Version (package version, or the commit for moat).
    pub version: String,
    /// `fs`, `scrape` or `floor`.
    pub kind: String,
    /// The command or URL, as run (paths shortened).
    pub command: String,
    /// Limits and arguments worth knowing when reading its figures.
    pub note: String,
}

impl Server {
    /// The kind of workload it runs.
    pub fn workloads(&self) -> Kind {
        match self.kind.as_str() {
            "floor" => Kind::Floor,
            "fs" => Kind::Fs,
            _ => Kind::Scrape,
        }
    }
}

/// One workload on one server in one round.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub enum Outcome {
    /// Measured and checked.
    Measured {
        /// Median, in microseconds.
        p50: f64,
        /// 99th percentile, in microseconds.
        p99: f64,
        /// Calls (or batches) timed.
        samples: usize,
        /// What came back (e.g. "1000 entries").
        detail: String,
    },
    /// The server has no tool for it.
    Missing(String),
    /// A call failed (tool error, protocol error, timeout, exit).
    Failed(String),
    /// A call answered, but wrongly; how long it took is kept, not
    /// counted.
    Wrong {
        /// What is wrong.
        message: String,
        /// The time of the wrong answer, in microseconds.
        took: f64,
    },
}

/// Everything a run found.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Run {
    /// The servers, in column order; the floor first.
    pub servers: Vec<Server>,
    /// `(server index, workload id, round outcome)`.
    pub outcomes: Vec<(usize, String, Outcome)>,
    /// `(server index, spawn-to-initialize of every start, µs)`, per round
    /// (the median of each round's starts).
    pub spawns: Vec<(usize, f64)>,
    /// `(server index, peak memory of it and its children in KiB: its
    /// own `VmHWM` or its tree's PSS, the larger)`, per
    /// round.
    pub memory: Vec<(usize, u64)>,
    /// `(server index, peak RSS of the server process alone in KiB)`, per
    /// round.
    #[serde(default)]
    pub own_memory: Vec<(usize, u64)>,
    /// `(workload id, the baseline's command as shown, round outcome)`:
    /// what rows are measured against, the command-line tools on the walk
    /// rows and bare chromiumoxide on the JavaScript page (absent from runs
    /// saved before they were).
    #[serde(default)]
    pub baselines: Vec<(String, String, Outcome)>,
    /// Rounds run.
    pub rounds: usize,
    /// The machine, date and tool versions, as lines of text.
    pub machine: Vec<(String, String)>,
    /// Wall time of the measuring part, in seconds.
    pub seconds: f64,
}

/// The median of `values` (the mean of the middle two when even); `None`
/// when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        f64::midpoint(values[middle - 1], values[middle])
    } else {
        values[middle]
    })
}

/// The value at `fraction` (0 to 1) of sorted `samples`, nearest rank.
pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One cell's round outcomes folded into one: the first failure if a
/// round failed, else the first wrong answer (with the median time of the
/// wrong answers), else the medians of the rounds' p50 and p99 (with the
/// samples of all rounds). `None` when there are none.
fn fold<'a>(rounds: impl Iterator<Item = &'a Outcome>) -> Option<Outcome> {
    let rounds: Vec<&Outcome> = rounds.collect();
    let first = |wanted: fn(&Outcome) -> bool| rounds.iter().find(|outcome| wanted(outcome));
    if let Some(outcome) =
        first(|outcome| matches!(outcome, Outcome::Failed(_) | Outcome::Missing(_)))
    {
        return Some((*outcome).clone());
    }
    if let Some(Outcome::Wrong { message, .. }) =
        first(|outcome| matches!(outcome, Outcome::Wrong { .. }))
    {
        let mut times: Vec<f64> = rounds
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Wrong { took, .. } => Some(*took),
                _ => None,
            })
            .collect();
        return Some(Outcome::Wrong {
            message: message.clone(),
            took: median(&mut times).unwrap_or(0.0),
        });
    }
    let (mut p50s, mut p99s, mut total, mut last) = (Vec::new(), Vec::new(), 0, None);
    for outcome in &rounds {
        if let Outcome::Measured {
            p50,
            p99,
            samples,
            detail,
        } = outcome
        {
            p50s.push(*p50);
            p99s.push(*p99);
            total += samples;
            last = Some(detail.clone());
        }
    }
    Some(Outcome::Measured {
        p50: median(&mut p50s)?,
        p99: median(&mut p99s)?,
        samples: total,
        detail: last?,
    })
}

/// One figure of a server in a run (e.g. [`Run::memory`]).
pub type Figure = fn(&Run, usize) -> Option<f64>;

impl Run {
    /// The outcome of `server` for `workload`, folded over rounds (see
    /// [`fold`]). `None` when it was not run.
    pub fn cell(&self, server: usize, workload: &str) -> Option<Outcome> {
        fold(
            self.outcomes
                .iter()
                .filter(|(index, id, _)| *index == server && id == workload)
                .map(|(_, _, outcome)| outcome),
        )
    }

    /// The command-line tool measured against `workload`: its command and
    /// its outcome folded over rounds. `None` when none was run.
    pub fn baseline(&self, workload: &str) -> Option<(String, Outcome)> {
        let mut rounds = self
            .baselines
            .iter()
            .filter(|(id, _, _)| id == workload)
            .peekable();
        let command = rounds.peek()?.1.clone();
        Some((command, fold(rounds.map(|(_, _, outcome)| outcome))?))
    }

    /// Median spawn-to-initialize of `server` across rounds, µs.
    pub fn spawn(&self, server: usize) -> Option<f64> {
        Self::median_of(&self.spawns, server, |micros| micros)
    }

    /// Median peak memory (PSS) of `server` and its children across rounds,
    /// KiB.
    pub fn memory(&self, server: usize) -> Option<f64> {
        Self::median_of(&self.memory, server, |kib| kib as f64)
    }

    /// Median peak RSS of the `server` process alone across rounds, KiB.
    pub fn own_memory(&self, server: usize) -> Option<f64> {
        Self::median_of(&self.own_memory, server, |kib| kib as f64)
    }

    /// The median over rounds of `server`'s values in `rounds`.
    fn median_of<T: Copy>(
        rounds: &[(usize, T)],
        server: usize,
        number: fn(T) -> f64,
    ) -> Option<f64> {
        let mut values: Vec<f64> = rounds
            .iter()
            .filter(|(index, _)| *index == server)
            .map(|(_, value)| number(*value))
            .collect();
        median(&mut values)
    }

    /// The floor's echo p50, µs, and spawn time, µs (the first floor:
    /// the one every cell's multiple is of).
    pub fn floor(&self) -> (Option<f64>, Option<f64>) {
        self.floors()
            .into_iter()
            .next()
            .map_or((None, None), |(_, echo, spawn)| (echo, spawn))
    }

    /// Every floor, in the order given: its name, echo p50 and spawn time,
    /// µs. A second floor (rmcp's own Streamable HTTP service) is what an
    /// HTTP column is best read against.
    pub fn floors(&self) -> Vec<(&str, Option<f64>, Option<f64>)> {
        (0..self.servers.len())
            .filter(|index| self.servers[*index].kind == "floor")
            .map(|index| {
                let echo = match self.cell(index, "echo") {
                    Some(Outcome::Measured { p50, .. }) => Some(p50),
                    _ => None,
                };
                (self.servers[index].name.as_str(), echo, self.spawn(index))
            })
            .collect()
    }
}
