//! The plots: grouped bars (one group per workload, one bar per server),
//! on a log scale because the figures span microseconds to seconds. SVG
//! only, through plotters without its font stack, so the text is left to
//! whatever displays the file. Missing bars are labelled with why (no
//! tool, error, wrong answer) rather than left out silently.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::{
    outcome::{Figure, Outcome, Run},
    workload::{Family, WORKLOADS},
};

/// Plot size in pixels.
const SIZE: (u32, u32) = (1000, 480);

/// Bar colours, one per server in column order (tab10).
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

/// A bar's value, or why there is none.
enum Bar {
    Value(f64),
    Missing(&'static str),
}

/// One series: a server's name, its index (which picks its colour, the
/// same in every plot) and its bar in each group.
type Series = (String, usize, Vec<Bar>);

fn draw(path: &Path, title: &str, unit: &str, groups: &[&str], series: &[Series]) -> Result<()> {
    let values = series
        .iter()
        .flat_map(|(_, _, bars)| bars)
        .filter_map(|bar| match bar {
            Bar::Value(value) => Some(*value),
            Bar::Missing(_) => None,
        });
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let (low, high) = if low <= high {
        // Room above the tallest bar for the legend.
        let (low, high) = (low / 3.0, high * 3.0);
        (low, high * (high / low).powf(0.25))
    } else {
        (1.0, 10.0)
    };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    let error = |error: &dyn std::fmt::Debug| anyhow!("plotting {}: {error:?}", path.display());
    root.fill(&WHITE).map_err(|failure| error(&failure))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..(groups.len() as f64 - 0.5), (low..high).log_scale())
        .map_err(|failure| error(&failure))?;
    let label = |x: &f64| {
        let nearest = x.round();
        if (x - nearest).abs() < 1e-6 && nearest >= 0.0 && (nearest as usize) < groups.len() {
            groups[nearest as usize].to_string()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len())
        .x_label_formatter(&label)
        .y_desc(unit)
        .y_label_formatter(&|value| format!("{value}"))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|failure| error(&failure))?;
    let slot = 0.84 / series.len().max(1) as f64;
    for (number, (name, server, bars)) in series.iter().enumerate() {
        let colour = COLOURS[server % COLOURS.len()];
        let left = |group: usize| group as f64 - 0.42 + number as f64 * slot;
        chart
            .draw_series(
                bars.iter()
                    .enumerate()
                    .filter_map(|(group, bar)| match bar {
                        Bar::Value(value) => Some(Rectangle::new(
                            [(left(group), low), (left(group) + slot * 0.9, *value)],
                            colour.filled(),
                        )),
                        Bar::Missing(_) => None,
                    }),
            )
            .map_err(|failure| error(&failure))?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        chart
            .draw_series(
                bars.iter()
                    .enumerate()
                    .filter_map(|(group, bar)| match bar {
                        Bar::Missing(why) => Some(Text::new(
                            *why,
                            (left(group), low * (high / low).powf(0.06)),
                            ("sans-serif", 12).into_font().color(&colour),
                        )),
                        Bar::Value(_) => None,
                    }),
            )
            .map_err(|failure| error(&failure))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|failure| error(&failure))?;
    root.present().map_err(|failure| error(&failure))?;
    Ok(())
}

fn bar_of(cell: Option<&Outcome>) -> Bar {
    match cell {
        Some(Outcome::Measured { p50, .. }) => Bar::Value(p50 / 1e3),
        Some(Outcome::Missing(_)) | None => Bar::Missing("n/a"),
        Some(Outcome::Failed(_)) => Bar::Missing("error"),
        Some(Outcome::Wrong { .. }) => Bar::Missing("wrong"),
    }
}

/// A plot of figures per server: file name, title, unit, one group per
/// (label, figure), and the divisor from the figure's unit to the plot's.
type PerServer = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Figure)],
    f64,
);

/// Servers of `kind`, in column order.
fn of_kind<'a>(run: &'a Run, kind: &'a str) -> impl Iterator<Item = usize> + 'a {
    (0..run.servers.len()).filter(move |index| run.servers[*index].kind == kind)
}

/// Write every plot into `folder`; returns each one's title and path.
pub fn all(run: &Run, folder: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut written = Vec::new();
    let families = [
        (
            "fs-files",
            "Filesystem: one file, one directory (p50)",
            "fs",
            Family::Files,
        ),
        (
            "fs-walks",
            "Filesystem: walks of 100,000 files (p50)",
            "fs",
            Family::Walks,
        ),
        (
            "scrape",
            "Scrapers: local pages (p50)",
            "scrape",
            Family::Pages,
        ),
    ];
    for (file, title, kind, family) in families {
        let workloads: Vec<_> = WORKLOADS
            .iter()
            .filter(|workload| workload.family == family)
            .collect();
        let series: Vec<Series> = of_kind(run, kind)
            .map(|index| {
                let bars = workloads
                    .iter()
                    .map(|workload| bar_of(run.cell(index, workload.id).as_ref()))
                    .collect();
                (run.servers[index].name.clone(), index, bars)
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let groups: Vec<&str> = workloads.iter().map(|workload| workload.short).collect();
        let path = folder.join(format!("{file}.svg"));
        draw(&path, title, "milliseconds (log scale)", &groups, &series)?;
        written.push((title.to_string(), path));
    }
    let figures: [PerServer; 2] = [
        (
            "startup",
            "Spawn to initialize answer (p50)",
            "milliseconds (log scale)",
            &[("spawn → initialize", Run::spawn)],
            1e3,
        ),
        (
            "memory",
            "Peak memory after all workloads (PSS of the tree; RSS of the server alone)",
            "MiB (log scale)",
            &[
                ("server and its children", Run::memory),
                ("server process alone", Run::own_memory),
            ],
            1024.0,
        ),
    ];
    for (file, title, unit, groups, scale) in figures {
        let series: Vec<Series> = (0..run.servers.len())
            .map(|index| {
                let bars = groups
                    .iter()
                    .map(|(_, figure)| {
                        figure(run, index)
                            .map_or(Bar::Missing("n/a"), |value| Bar::Value(value / scale))
                    })
                    .collect();
                (run.servers[index].name.clone(), index, bars)
            })
            .collect();
        let labels: Vec<&str> = groups.iter().map(|(label, _)| *label).collect();
        let path = folder.join(format!("{file}.svg"));
        draw(&path, title, unit, &labels, &series)?;
        written.push((title.to_string(), path));
    }
    Ok(written)
}
