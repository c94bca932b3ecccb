//! `smac plot`: convergence and per-hyperparameter scatter plots of a run directory, as SVG or
//! PNG (by the output's extension), with the plotted data optionally written as JSON.

pub mod convergence;
pub mod scatter;
pub mod series;
pub mod style;

use super::args::{PlotArgs, PlotKind};
use super::error::CliError;
use super::rundir::{self, Run};
use plotters::prelude::*;
use std::path::Path;

/// Image formats `smac plot` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

impl Format {
    /// The format an output path asks for.
    pub fn of(path: &Path) -> Result<Format, CliError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(CliError::Usage(format!("{}: the plot file must end in .svg or .png", path.display()))),
        }
    }
}

/// Evaluates `$draw` with `$root` bound to the drawing area of the backend for `$format`
/// (expanded once per backend, since drawing code is generic over it), then writes the file.
macro_rules! render {
    ($format:expr, $path:expr, $size:expr, |$root:ident| $draw:expr) => {{
        let result: Result<(), String> = match $format {
            Format::Svg => {
                let area = SVGBackend::new($path, $size).into_drawing_area();
                let $root = &area;
                $draw.and_then(|_| area.present().map_err(|e| e.to_string()))
            }
            Format::Png => {
                let area = BitMapBackend::new($path, $size).into_drawing_area();
                let $root = &area;
                $draw.and_then(|_| area.present().map_err(|e| e.to_string()))
            }
        };
        result
    }};
}

/// The index of the objective to plot.
fn objective_index(run: &Run, name: Option<&str>) -> Result<usize, CliError> {
    let objectives = &run.scenario.objectives;
    match name {
        None => Ok(0),
        Some(n) => objectives.iter().position(|o| o == n).ok_or_else(|| {
            CliError::Usage(format!("objective '{n}' is not one of this run's: {}", objectives.join(", ")))
        }),
    }
}

/// A log cost axis needs positive costs.
fn check_log_y(log_y: bool, mut costs: impl Iterator<Item = f64>) -> Result<(), CliError> {
    if log_y && costs.any(|c| c <= 0.0) {
        return Err(CliError::Usage("--log-y needs positive costs; this run has costs <= 0".into()));
    }
    Ok(())
}

fn write_data(path: &Path, data: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(data).expect("plot data serializes");
    std::fs::write(path, text).map_err(|e| CliError::io(path, e))
}

/// Runs `smac plot`.
pub fn run(args: &PlotArgs) -> Result<(), CliError> {
    let format = Format::of(&args.output)?;
    let run = Run::load(&rundir::find_one(&args.run_dir)?)?;
    let obj = objective_index(&run, args.objective.as_deref())?;
    let size = (args.width.max(200), args.height.max(150));
    let plot_err = |reason: String| CliError::Plot { path: args.output.clone(), reason };
    let name = &run.scenario.name;
    match args.kind {
        PlotKind::Convergence => {
            let data = series::convergence(&run, obj);
            check_log_y(
                args.log_y,
                data.trials.iter().filter(|t| t.status == "SUCCESS").filter_map(|t| t.cost),
            )?;
            if let Some(p) = &args.data {
                write_data(p, &data)?;
            }
            let title = format!("{name}: {} over trials and time", data.objective);
            render!(format, &args.output, size, |root| convergence::draw(root, &data, &title, args.log_y))
                .map_err(plot_err)?;
        }
        PlotKind::Scatter => {
            let data = series::scatter(&run, obj);
            check_log_y(args.log_y, data.panels.iter().flat_map(|p| p.points.iter().map(|q| q.cost)))?;
            if let Some(p) = &args.data {
                write_data(p, &data)?;
            }
            let title = format!("{name}: {} by hyperparameter", data.objective);
            render!(format, &args.output, size, |root| scatter::draw(root, &data, &title, args.log_y))
                .map_err(plot_err)?;
        }
    }
    tracing::info!(output = %args.output.display(), "plot written");
    Ok(())
}
