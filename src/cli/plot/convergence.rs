//! The convergence plot: every trial's cost and the best cost so far, against the trial number
//! (left) and against wall time (right).

use super::series::{BestPoint, Convergence};
use super::style::{self, padded_range, pow10_label};
use plotters::coord::Shift;
use plotters::prelude::*;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// One panel's data: trial points, best-so-far points and the x axis.
struct PanelData<'a> {
    x_desc: &'a str,
    points: Vec<(f64, f64)>,
    best: Vec<(f64, f64)>,
    x_range: (f64, f64),
}

/// The best-so-far values as a step line.
fn steps(best: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(best.len() * 2);
    for (i, &(x, y)) in best.iter().enumerate() {
        if i > 0 {
            out.push((x, best[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// Draws the convergence plot onto `root`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Convergence,
    title: &str,
    log_y: bool,
) -> Result<(), String> {
    style::register_font();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    let y = |c: f64| if log_y { c.log10() } else { c };
    let ok = data.trials.iter().filter_map(|p| p.cost.filter(|_| p.status == "SUCCESS").map(|c| (p, c)));
    let best = |b: &[BestPoint], by_time: bool| -> Vec<(f64, f64)> {
        b.iter().map(|p| (if by_time { p.time } else { p.trial as f64 }, y(p.cost))).collect()
    };
    let by_trial = PanelData {
        x_desc: "trial",
        points: ok.clone().map(|(p, c)| (p.trial as f64, y(c))).collect(),
        best: best(&data.best_by_trial, false),
        x_range: (0.0, data.trials.len() as f64 + 1.0),
    };
    let max_time = data.trials.iter().map(|p| p.time).fold(0.0, f64::max);
    let by_time = PanelData {
        x_desc: "wall time [s]",
        points: ok.map(|(p, c)| (p.time, y(c))).collect(),
        best: best(&data.best_by_time, true),
        x_range: (0.0, if max_time > 0.0 { max_time * 1.05 } else { 1.0 }),
    };
    let (lo, hi) = padded_range(by_trial.points.iter().map(|p| p.1));
    // Headroom above the data for the legend.
    let y_range = (lo, hi + (hi - lo) * 0.15);
    let y_desc = if log_y { format!("{} (log scale)", data.objective) } else { data.objective.clone() };
    let (w, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w / 2);
    panel(&left, &by_trial, y_range, &y_desc, log_y)?;
    panel(&right, &by_time, y_range, &y_desc, log_y)?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &PanelData<'_>,
    y_range: (f64, f64),
    y_desc: &str,
    log_y: bool,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(data.x_range.0..data.x_range.1, y_range.0..y_range.1)
        .map_err(err)?;
    let y_fmt = |v: &f64| if log_y { pow10_label(*v) } else { style::number_label(*v) };
    let x_fmt = |v: &f64| style::number_label(*v);
    chart
        .configure_mesh()
        .x_desc(data.x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(data.points.iter().map(|&p| Circle::new(p, 3, style::TRIAL.filled())))
        .map_err(err)?
        .label("trial")
        .legend(|(x, y)| Rectangle::new([(x + 6, y - 3), (x + 12, y + 3)], style::TRIAL.filled()));
    chart
        .draw_series(LineSeries::new(steps(&data.best), style::BEST.stroke_width(2)))
        .map_err(err)?
        .label("best so far")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style::BEST.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_so_far_is_a_step_line() {
        assert_eq!(
            steps(&[(1.0, 5.0), (2.0, 5.0), (4.0, 3.0)]),
            [(1.0, 5.0), (2.0, 5.0), (2.0, 5.0), (4.0, 5.0), (4.0, 3.0)]
        );
    }
}
