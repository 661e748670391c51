//! `xpyd`: the command-line front end. `xpyd FILE` opens the explorer;
//! `xpyd run FILE` prints results for scripts; `xpyd check FILE` validates.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use xpyd::report::{self, RunReport};
use xpyd::run::{self, CancelToken, RunError, RunOptions};
use xpyd::verbs;

#[derive(Parser)]
#[command(
    name = "xpyd",
    version,
    about = "Live explorer for LLM serving configurations (agg and disaggregated xPyD)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Exp YAML file to open in the explorer.
    file: Option<PathBuf>,
    /// Measured database folder (holding <system>.yaml, query_versions.yaml, data/); also XPYD_SYSTEMS_DIR.
    #[arg(long, global = true)]
    systems_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Search every experiment of FILE and print the results.
    Run {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Rows per experiment in the top list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Also include every feasible candidate (JSON only).
        #[arg(long)]
        all: bool,
        /// Write `<DIR>/<experiment>/{pareto,best_config_topn}.csv` like the reference,
        /// and a deploy bundle per top row in `<DIR>/<experiment>/top<K>/`.
        #[arg(long)]
        save_dir: Option<PathBuf>,
        /// Deploy setting KEY=VALUE for the bundles (repeatable; keys below).
        #[arg(long = "deploy-set", value_name = "KEY=VALUE")]
        deploy_set: Vec<String>,
        /// YAML file of deploy settings (`KEY: VALUE` lines; --deploy-set wins).
        #[arg(long)]
        deploy_config: Option<PathBuf>,
    },
    /// Validate FILE (schema, names, search lists) without searching.
    /// Warnings go to stderr; the exit code is 0 unless there are errors
    /// (or warnings, with --deny-warnings).
    Check {
        file: PathBuf,
        /// Fail (exit code 1) when the file has warnings.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Search FILE once per value of one workload or SLA key and print each
    /// experiment's best row per value, e.g. `--vary isl=1000:8000:1000` or
    /// `--vary tpot=20,30,50`. Keys: isl, osl, prefix, ttft, tpot, total_gpus.
    Sweep {
        file: PathBuf,
        /// KEY=FROM:TO:STEP (inclusive) or KEY=v1,v2,...
        #[arg(long)]
        vary: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Set values in FILE in place, keeping its comments and layout:
    /// `xpyd set FILE qwen_agg.isl=8000 qwen_agg.config.worker_config.tp_list=[2,4]`.
    /// The result must load; otherwise nothing is written.
    Set {
        file: PathBuf,
        /// EXPERIMENT.path.to.key=VALUE (VALUE is YAML: 8000, fp8, [2, 4]).
        #[arg(required = true, value_name = "KEY=VALUE")]
        edits: Vec<String>,
    },
    /// The measured latency database.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Write a commented starter exp YAML (agg + disagg, every default written out).
    #[command(
        after_help = "Example:\n  xpyd new --model Qwen/Qwen3-32B --system h200_sxm --total-gpus 8 -o qwen.yaml --open"
    )]
    New(Box<verbs::new::NewArgs>),
    /// Agg against disagg for a model, system and GPU count (the reference's `cli default`).
    #[command(
        after_help = "Defaults: --isl 4000 --osl 1000 --ttft 2000 --tpot 30 --backend trtllm --database-mode SILICON --top-n 5.\n\nExample:\n  xpyd default --model Qwen/Qwen3-32B --system h200_sxm --total-gpus 16 --save-dir out/"
    )]
    Default(Box<verbs::default::DefaultArgs>),
    /// TTFT, TPOT and throughput of one configuration (the reference's `cli estimate`).
    #[command(
        after_help = "Defaults: --isl 1024 --osl 1024 --batch-size 128 --tp 1 --ctx-tokens ISL --estimate-mode agg (or disagg, static, static_ctx, static_gen) --backend trtllm --database-mode SILICON.\n\nExamples:\n  xpyd estimate --model Qwen/Qwen3-32B --system h200_sxm --tp 2 --bs 64 --isl 4000 --osl 1000 --breakdown\n  xpyd estimate --model Qwen/Qwen3-32B --system h200_sxm --estimate-mode disagg --p-tp 2 --p-bs 1 --p-workers 2 --d-tp 4 --d-bs 64 --d-workers 1"
    )]
    Estimate(Box<verbs::estimate::EstimateArgs>),
    /// The fewest GPUs per serving mode for a target load under the SLA (the reference's `cli recommend`).
    #[command(
        after_help = "Defaults: --isl 4000 --osl 1000 --ttft 2000 --tpot 30 --backend trtllm --database-mode HYBRID.\n\nExample:\n  xpyd recommend --model Qwen/Qwen3-32B --system h200_sxm --target-request-rate 10"
    )]
    Recommend(Box<verbs::recommend::RecommendArgs>),
    /// Which model x system x backend combinations have data (the reference's `cli support`).
    #[command(
        after_help = "Example:\n  xpyd support --model deepseek-ai/DeepSeek-V3 --system all"
    )]
    Support(Box<verbs::support::SupportArgs>),
    /// Time searches of FILE: cold, warm re-search after an edit, memory, engine evaluations.
    Bench {
        file: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Download the vendor database wheel with pip and unpack its tables into xpyd's cache.
    Fetch,
    /// Say which database is in use and what it holds.
    Status,
}

/// Write to stdout. A reader that closed the pipe (`xpyd run F | head`) is a
/// normal way for a command to end: stop quietly with success, like `cat`.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(format!("writing to stdout: {e}")),
    }
}

fn emit_line(text: &str) -> Result<(), String> {
    emit(&format!("{text}\n"))
}

/// Warnings go to stderr, so stdout stays the table, JSON or CSV asked for.
fn print_warnings(warnings: &[String]) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for w in warnings {
        // A closed stderr is no reason to fail the command.
        let _ = writeln!(err, "warning: {w}");
    }
}

fn print_report(rep: &RunReport, format: Format) -> Result<(), String> {
    match format {
        Format::Table => emit(&report::table::render(rep)),
        Format::Json => emit(&report::json_text(rep)?),
        Format::Csv => {
            let many = rep.experiments.len() > 1;
            let mut text = String::new();
            for e in &rep.experiments {
                if many {
                    text.push_str(&format!("# experiment: {}\n", e.name));
                }
                text.push_str(&report::csv::rows_csv(e, &e.top));
            }
            emit(&text)
        }
    }
}

/// `--deploy-config` then `--deploy-set`, checked before any search runs.
fn deploy_options(
    file: Option<&std::path::Path>,
    pairs: &[String],
) -> Result<xpyd::deploy::DeployOptions, String> {
    let mut o = xpyd::deploy::DeployOptions::default();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        o.load_yaml(&text, &f.display().to_string())?;
    }
    for p in pairs {
        o.set_pair(p)?;
    }
    // The save dir is the user's explicit output: its bundles are rewritten, like its CSVs.
    o.overwrite = true;
    Ok(o)
}

/// `xpyd sweep`: one session for every value; the results print at the end.
fn sweep(
    file: &std::path::Path,
    vary: &str,
    format: Format,
    opts: &RunOptions,
) -> Result<(), String> {
    use xpyd::exp::vary::{parse_values, VaryKey};
    let (key, spec) = vary
        .split_once('=')
        .ok_or_else(|| format!("--vary {vary}: write KEY=FROM:TO:STEP or KEY=v1,v2,..."))?;
    let key = VaryKey::parse(key.trim())?;
    let values = parse_values(key, spec.trim())?;
    let session = run::Session::open(opts.systems_dir.as_deref()).map_err(|e| e.to_string())?;
    let report = xpyd::sweep::sweep(
        &session,
        file,
        key,
        &values,
        opts,
        &CancelToken::new(),
        &|_| {},
    )
    .map_err(|e| e.to_string())?;
    session.cache.persist();
    match format {
        Format::Table => emit(&xpyd::sweep::render_table(&report)),
        Format::Csv => emit(&xpyd::sweep::render_csv(&report)),
        Format::Json => emit(&report::json_text(&report)?),
    }
}

/// `xpyd set`: every edit is applied in one atomic write, after the real
/// loader accepted the result; any error writes nothing.
fn set(
    file: &std::path::Path,
    edits: &[String],
    systems_dir: Option<&std::path::Path>,
) -> Result<(), String> {
    let mut pairs = Vec::new();
    for e in edits {
        match e.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => pairs.push((k.trim(), v)),
            _ => {
                return Err(format!(
                    "'{e}': expected KEY=VALUE (e.g. qwen_agg.isl=8000)"
                ))
            }
        }
    }
    let session = run::Session::open(systems_dir).map_err(|e| e.to_string())?;
    let label = file.display().to_string();
    let out = session.set_file(file, &pairs).map_err(|e| e.to_string())?;
    if out.changed {
        emit_line(&format!("{label}: set {}", edits.join(" ")))
    } else {
        emit_line(&format!("{label}: unchanged"))
    }
}

/// Run a reference-compatible verb in a fresh session and print its text.
fn verb(cli: &Cli, f: impl FnOnce(&run::Session) -> Result<String, String>) -> Result<(), String> {
    let session = run::Session::open(cli.systems_dir.as_deref()).map_err(|e| e.to_string())?;
    let text = f(&session)?;
    session.cache.persist();
    emit(&text)
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let help = format!(
        "Deploy settings (--deploy-set KEY=VALUE, --deploy-config FILE):\n{}",
        xpyd::deploy::keys_help()
    );
    let matches = Cli::command()
        .mut_subcommand("run", |c| c.after_help(help))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let opts = |top: usize, all: bool| RunOptions {
        systems_dir: cli.systems_dir.clone(),
        top_n: top,
        keep_feasible: all,
        skip_details: false,
    };
    let result: Result<(), String> = match &cli.command {
        Some(Command::Run {
            file,
            format,
            top,
            all,
            save_dir,
            deploy_set,
            deploy_config,
        }) => {
            let deploy = match deploy_options(deploy_config.as_deref(), deploy_set) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let shown = |res: Result<RunReport, RunError>| match res {
                Ok(rep) => {
                    let texts: Vec<String> = rep.warnings.iter().map(|w| w.text.clone()).collect();
                    print_warnings(&texts);
                    let mut r = print_report(&rep, *format);
                    if let (Ok(()), Some(dir)) = (&r, save_dir) {
                        r = report::csv::write_csvs(&rep, dir).and_then(|()| {
                            let notes = xpyd::deploy::save_top_bundles(&rep, dir, &deploy)
                                .map_err(|e| e.to_string())?;
                            print_warnings(&notes);
                            Ok(())
                        });
                    }
                    // Experiments that could not be set up fail the run, after the
                    // others have been reported.
                    let broken: Vec<String> = rep
                        .experiments
                        .iter()
                        .filter(|e| e.status == report::Status::Error)
                        .filter_map(|e| e.error.clone())
                        .collect();
                    if r.is_ok() && !broken.is_empty() {
                        r = Err(broken.join("\n"));
                    }
                    r
                }
                Err(e) => Err(e.to_string()),
            };
            run::run_file(file, &opts(*top, *all), &CancelToken::new(), &|_| {}, shown)
                .unwrap_or_else(|e| Err(e.to_string()))
        }
        Some(Command::Check {
            file,
            deny_warnings,
        }) => run::check_file(file, &opts(5, false)).and_then(|c| {
            emit_line(&c.summary)?;
            print_warnings(&c.warnings);
            if *deny_warnings && !c.warnings.is_empty() {
                Err(format!(
                    "{} warning(s) and --deny-warnings",
                    c.warnings.len()
                ))
            } else {
                Ok(())
            }
        }),
        Some(Command::Sweep { file, vary, format }) => sweep(file, vary, *format, &opts(1, false)),
        Some(Command::Set { file, edits }) => set(file, edits, cli.systems_dir.as_deref()),
        Some(Command::Db {
            action: DbAction::Fetch,
        }) => run::db_fetch().and_then(|msg| emit_line(&msg)),
        Some(Command::Db {
            action: DbAction::Status,
        }) => emit_line(&run::db_status(cli.systems_dir.as_deref())),
        Some(Command::Bench { file, runs }) => {
            run::bench(file, &opts(5, false), *runs).and_then(|t| emit(&t))
        }
        Some(Command::New(a)) => verb(&cli, |s| verbs::new::run(s, a)).and_then(|()| match (&a.output, a.open) {
            (Some(file), true) => xpyd::tui::run(file, opts(5, true)).map_err(|e| format!("{e:?}")),
            _ => Ok(()),
        }),
        Some(Command::Default(a)) => verb(&cli, |s| verbs::default::run(s, a)),
        Some(Command::Estimate(a)) => verb(&cli, |s| {
            verbs::estimate::run(s, a).map(|(text, warnings)| {
                print_warnings(&warnings);
                text
            })
        }),
        Some(Command::Recommend(a)) => verb(&cli, |s| verbs::recommend::run(s, a)),
        Some(Command::Support(a)) => verb(&cli, |s| verbs::support::run(s, a)),
        None => match &cli.file {
            Some(file) => xpyd::tui::run(file, opts(5, true)).map_err(|e| format!("{e:?}")),
            None => Err(
                "usage: xpyd FILE (explorer) | xpyd run FILE | xpyd check FILE | xpyd sweep FILE --vary KEY=... | xpyd set FILE KEY=VALUE... | xpyd db status"
                    .into(),
            ),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
