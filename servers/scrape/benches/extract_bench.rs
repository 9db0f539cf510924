//! Main-content extraction benchmark (a bench, not a test): runs
//! `extract::html_to_text` in-process over trafilatura's evaluation set and
//! scores it with the set's own rule, beside a whole-page-text baseline.
//!
//! Run: `scripts/extract-bench.sh [/path/to/extract-bench]` (it unpacks the
//! pages into target/ and calls this binary), or directly
//! `moat-extract-bench <unpacked-dir> <evaldata.json> [options]` where the
//! directory holds `tests/eval/` and `tests/cache/`. Options:
//! `--split even|odd` scores every other page (dev/holdout),
//! `--worst N` lists the N pages losing the most snippets,
//! `--dump DIR` writes each page's output to DIR (`NNNN.txt`, NNNN its
//! index in URL order, and `passes.tsv`: index, pass, milliseconds), `--explain N` prints how
//! page N (its index in URL order) was extracted, `--only N,M,...` runs
//! just those pages (to re-check the ones a change touches), `--threads N` spreads
//! the pages over N threads (default 1: the timing figures are for one
//! page at a time on an idle core).
//!
//! Scoring (eval_common.py): a snippet counts when its whitespace-normalised
//! form (Python's `\s+` to one space, trimmed) is a substring of the
//! normalised output; `with` found = TP, missing = FN; `without` found = FP.
//! Counts are pooled; F1 = 2TP / (2TP + FP + FN). It never asserts.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use moat_scrape::extract::{self, Format, Kind, Pass};

/// Pooled confusion counts.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, other: Self) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }

    fn row(&self, name: &str, empties: usize) -> String {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        format!(
            "| {name} | {:.3} | {:.3} | {:.3} | {empties} |",
            ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_),
            ratio(self.tp, self.tp + self.fp),
            ratio(self.tp, self.tp + self.fn_),
        )
    }
}

/// Python's `re.sub(r"\s+", " ", text).strip()` (`\s` is Unicode
/// whitespace for `str` patterns, as `char::is_whitespace` is close to).
fn norm(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || is_python_space(c))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Characters Python's `\s` matches that Rust's `is_whitespace` does not
/// (the information separators).
fn is_python_space(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}')
}

fn score(item: &serde_json::Value, output: &str) -> Counts {
    let output = norm(output);
    let snippets = |key: &str| -> Vec<String> {
        item[key]
            .as_array()
            .map(|list| list.iter().filter_map(|s| s.as_str()).map(norm).collect())
            .unwrap_or_default()
    };
    let with = snippets("with");
    let tp = with.iter().filter(|s| output.contains(s.as_str())).count();
    let fp = snippets("without")
        .iter()
        .filter(|s| output.contains(s.as_str()))
        .count();
    Counts {
        tp,
        fp,
        fn_: with.len() - tp,
    }
}

struct Options {
    root: PathBuf,
    evaldata: PathBuf,
    split: Option<usize>,
    worst: usize,
    dump: Option<PathBuf>,
    threads: usize,
    explain: Option<usize>,
    only: Option<Vec<usize>>,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: moat-extract-bench <unpacked-dir> <evaldata.json> [--split even|odd] [--worst N] [--dump DIR] [--explain N] [--only N,M,...] [--threads N]";
    let root = PathBuf::from(args.next().context(usage)?);
    let evaldata = PathBuf::from(args.next().context(usage)?);
    let mut options = Options {
        root,
        evaldata,
        split: None,
        worst: 0,
        dump: None,
        threads: 1,
        explain: None,
        only: None,
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--split" => {
                options.split = Some(match value.as_str() {
                    "even" => 0,
                    "odd" => 1,
                    _ => bail!("--split takes even or odd, not {value:?}"),
                });
            }
            "--worst" => options.worst = value.parse().context("--worst takes a number")?,
            "--dump" => options.dump = Some(PathBuf::from(value)),
            "--explain" => {
                options.explain = Some(value.parse().context("--explain takes a page index")?);
            }
            "--only" => {
                options.only = Some(
                    value
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .context("--only takes page indices separated by commas")?,
                );
            }
            "--threads" => {
                options.threads = value
                    .parse::<usize>()
                    .context("--threads takes a number")?
                    .max(1);
            }
            _ => bail!("unknown option {flag:?}; {usage}"),
        }
    }
    Ok(options)
}

#[expect(
    clippy::disallowed_methods,
    reason = "a bench binary reading the data set the operator names on the command line"
)]
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

#[expect(
    clippy::disallowed_methods,
    reason = "a bench binary writing outputs into the directory the operator names"
)]
fn dump(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), text)?;
    Ok(())
}

fn pass_name(pass: Pass) -> &'static str {
    match pass {
        Pass::Selector => "selector",
        Pass::Main => "main",
        Pass::Loose => "loose",
        Pass::WholeBody => "whole_body",
    }
}

fn page_path(root: &Path, file: &str) -> anyhow::Result<PathBuf> {
    for sub in ["cache", "eval"] {
        let path = root.join("tests").join(sub).join(file);
        if read(&path).is_ok() {
            return Ok(path);
        }
    }
    bail!(
        "{file}: not found under {}/tests/{{cache,eval}}",
        root.display()
    )
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * share).round() as usize;
    sorted[at]
}

/// What one page gave.
struct PageResult {
    index: usize,
    url: String,
    millis: f64,
    pass: Pass,
    counts: Counts,
    empty: bool,
    baseline: Counts,
    baseline_empty: bool,
}

fn run_page(
    options: &Options,
    index: usize,
    url: &str,
    item: &serde_json::Value,
) -> anyhow::Result<PageResult> {
    let file = item["file"].as_str().context("an entry without file")?;
    let body = read(&page_path(&options.root, file)?)?;
    let started = Instant::now();
    let html = extract::decode(&body, None, Kind::Html);
    let base = url::Url::parse(url).ok();
    let extracted = extract::html_to_text(&html, base.as_ref(), None, Format::Text)?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let baseline = extract::to_plain_text(&html);
    if let Some(dir) = &options.dump {
        dump(dir, &format!("{index:04}.txt"), &extracted.text)?;
    }
    Ok(PageResult {
        index,
        url: url.to_string(),
        millis,
        pass: extracted.pass,
        counts: score(item, &extracted.text),
        empty: norm(&extracted.text).is_empty(),
        baseline: score(item, &baseline),
        baseline_empty: norm(&baseline).is_empty(),
    })
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let evaldata: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&read(&options.evaldata)?).context("parsing evaldata")?;
    let pages: Vec<(usize, &String, &serde_json::Value)> = evaldata
        .iter()
        .enumerate()
        .filter(|(index, _)| options.split.is_none_or(|split| index % 2 == split))
        .filter(|(index, _)| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.contains(index))
        })
        .map(|(index, (url, item))| (index, url, item))
        .collect();
    if let Some(wanted) = options.explain {
        let (_, url, item) = pages
            .iter()
            .find(|(index, _, _)| *index == wanted)
            .with_context(|| format!("no page {wanted}"))?;
        let file = item["file"].as_str().context("an entry without file")?;
        let html = extract::decode(&read(&page_path(&options.root, file)?)?, None, Kind::Html);
        println!("{url}\n{}", extract::explain(&html));
        return Ok(());
    }
    let chunk = pages.len().div_ceil(options.threads).max(1);
    let results: Vec<PageResult> = std::thread::scope(|scope| {
        let workers: Vec<_> = pages
            .chunks(chunk)
            .map(|part| {
                let options = &options;
                scope.spawn(move || {
                    part.iter()
                        .map(|(index, url, item)| run_page(options, *index, url, item))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a worker panicked"))?
            })
            .collect::<anyhow::Result<Vec<Vec<_>>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let mut ours = Counts::default();
    let mut whole = Counts::default();
    let (mut empties, mut whole_empties) = (0, 0);
    let mut passes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for page in &results {
        ours.add(page.counts);
        whole.add(page.baseline);
        empties += usize::from(page.empty);
        whole_empties += usize::from(page.baseline_empty);
        times.push(page.millis);
        *passes.entry(pass_name(page.pass)).or_default() += 1;
        losses.push((
            page.counts.fp + page.counts.fn_,
            page.counts,
            page.index,
            &page.url,
        ));
    }
    if let Some(dir) = &options.dump {
        let mut table = String::new();
        for page in &results {
            writeln!(
                table,
                "{}\t{}\t{:.2}",
                page.index,
                pass_name(page.pass),
                page.millis
            )?;
        }
        dump(dir, "passes.tsv", &table)?;
    }
    times.sort_by(f64::total_cmp);
    println!("pages: {}", times.len());
    println!("| system | F1 | precision | recall | empty outputs |");
    println!("|---|---|---|---|---|");
    println!("{}", ours.row("moat-scrape (html_to_text)", empties));
    println!("{}", whole.row("whole page as text", whole_empties));
    // The table rounds to three places; the pooled counts let a reader check
    // a figure that sits on a target's boundary.
    println!(
        "pooled snippets (moat-scrape): tp {}, fp {}, fn {}; F1 {:.4}",
        ours.tp,
        ours.fp,
        ours.fn_,
        2.0 * ours.tp as f64 / (2 * ours.tp + ours.fp + ours.fn_).max(1) as f64
    );
    println!("passes: {passes:?}");
    println!(
        "extraction time per page: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0)
    );
    losses.sort_by_key(|loss| std::cmp::Reverse(loss.0));
    for (_, counts, index, url) in losses.iter().take(options.worst) {
        println!("{index:04} fp {} fn {} {url}", counts.fp, counts.fn_);
    }
    Ok(())
}
