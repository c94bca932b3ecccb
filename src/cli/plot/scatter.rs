//! The scatter plot: cost against each hyperparameter's value, one panel per hyperparameter;
//! early trials light, late trials dark, the incumbent in red.

use super::series::{Panel, Scale, Scatter};
use super::style::{self, padded_range, pow10_label};
use plotters::coord::Shift;
use plotters::prelude::*;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws the scatter plot onto `root`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Scatter,
    title: &str,
    log_y: bool,
) -> Result<(), String> {
    style::register_font();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    if data.panels.is_empty() {
        return Ok(());
    }
    let y = |c: f64| if log_y { c.log10() } else { c };
    let y_range = padded_range(data.panels.iter().flat_map(|p| p.points.iter().map(|q| y(q.cost))));
    let n_trials = data.panels.iter().flat_map(|p| p.points.iter().map(|q| q.trial)).max().unwrap_or(1);
    let cols = (data.panels.len() as f64).sqrt().ceil() as usize;
    let rows = data.panels.len().div_ceil(cols);
    let areas = root.split_evenly((rows, cols));
    for (panel, area) in data.panels.iter().zip(&areas) {
        draw_panel(area, panel, data, y_range, n_trials, log_y)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    data: &Scatter,
    y_range: (f64, f64),
    n_trials: usize,
    log_y: bool,
) -> Result<(), String> {
    let y = |c: f64| if log_y { c.log10() } else { c };
    let (x0, x1) = match panel.scale {
        Scale::Categorical => panel.x_range,
        _ => padded_range([panel.x_range.0, panel.x_range.1]),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.hyperparameter, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y_range.0..y_range.1)
        .map_err(err)?;
    let labels = &panel.labels;
    let x_fmt = |v: &f64| match panel.scale {
        Scale::Linear => style::number_label(*v),
        Scale::Log => pow10_label(*v),
        Scale::Categorical => {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
    };
    let y_fmt = |v: &f64| if log_y { pow10_label(*v) } else { style::number_label(*v) };
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&x_fmt).y_label_formatter(&y_fmt).light_line_style(RGBColor(235, 235, 235));
    if panel.scale == Scale::Categorical {
        mesh.x_labels(labels.len()).disable_x_mesh();
    }
    mesh.draw().map_err(err)?;
    let (regular, best): (Vec<_>, Vec<_>) =
        panel.points.iter().partition(|p| !data.incumbents.contains(&p.config_id));
    chart
        .draw_series(regular.iter().map(|p| {
            let age = p.trial as f64 / n_trials.max(1) as f64;
            Circle::new((p.x, y(p.cost)), 3, style::by_age(age).filled())
        }))
        .map_err(err)?;
    chart
        .draw_series(best.iter().map(|p| Circle::new((p.x, y(p.cost)), 5, style::INCUMBENT.filled())))
        .map_err(err)?;
    Ok(())
}
