//! What both plots share: the embedded font, axis ranges, tick labels and colours.

use plotters::style::{FontStyle, RGBColor};

/// DejaVu Sans, subset to ASCII (license in `FONT-LICENSE.txt`): text renders the same on
/// any machine, with or without system fonts.
const FONT: &[u8] = include_bytes!("DejaVuSans-subset.ttf");

/// Registers the embedded font as `sans-serif` (once).
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::error!("the embedded plot font is invalid");
        }
    });
}

/// Colour of individual trials.
pub const TRIAL: RGBColor = RGBColor(150, 150, 150);
/// Colour of the best-so-far line.
pub const BEST: RGBColor = RGBColor(31, 119, 180);
/// Colour of incumbent points.
pub const INCUMBENT: RGBColor = RGBColor(214, 39, 40);

/// A trial's colour by its position `t` in [0, 1]: early light blue, late dark blue.
pub fn by_age(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(170.0, 8.0), mix(205.0, 48.0), mix(240.0, 107.0))
}

/// `(min, max)` of values padded by 5% (a unit range around a single value).
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.into_iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1.0) {
        let pad = (lo.abs() * 0.1).max(0.5);
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// A tick label for a value plotted as log10: 10^v with 3 significant digits.
pub fn pow10_label(v: f64) -> String {
    let x = 10f64.powf(v);
    let magnitude = x.abs().log10().floor();
    if !(-3.0..5.0).contains(&magnitude) {
        return number_label(x);
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A short tick label.
pub fn number_label(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x.abs() >= 1e5 || x.abs() < 1e-3 {
        let s = format!("{x:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_ranges() {
        assert_eq!(number_label(0.25), "0.25");
        assert_eq!(number_label(2.0), "2");
        assert_eq!(pow10_label(-4.0), "1e-4");
        assert_eq!(pow10_label(50.1187f64.log10()), "50.1");
        assert_eq!(pow10_label(0.031623f64.log10()), "0.0316");
        assert_eq!(pow10_label(1.0), "10");
        assert_eq!(padded_range([1.0, 3.0]), (0.9, 3.1));
        assert_eq!(padded_range([2.0]), (1.5, 2.5));
        assert_eq!(padded_range(std::iter::empty()), (0.0, 1.0));
    }
}
