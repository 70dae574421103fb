//! The chart of bookings and conflicts over time: plain SVG built with
//! `createElementNS`. Data only ever reaches attributes as numbers; labels
//! are text nodes.

use web_sys::Element;

use crate::dom::{append, clear, set_attr, set_nums, svg};

/// Cumulative totals at `t` seconds after the workers were told to start.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub booked: u64,
    pub conflicts: u64,
}

const W: f64 = 640.0;
const H: f64 = 300.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 44.0;

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `v`.
pub fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v * 0.999_999 {
            return m * p;
        }
    }
    10.0 * p
}

/// An axis from 0 for values up to `v`: (step, max) with `TICKS` or fewer
/// nice steps.
pub fn axis(v: f64) -> (f64, f64) {
    let step = nice_ceil(v / f64::from(TICKS));
    let n = (v / step - 1e-9).ceil().max(1.0);
    (step, step * n)
}

const TICKS: u32 = 5;

fn label(x: f64, y: f64, text: &str, class: &str) -> Element {
    let t = svg("text");
    set_nums(&t, &[("x", x), ("y", y)]);
    set_attr(&t, "class", class);
    t.set_text_content(Some(text));
    t
}

fn line(x1: f64, y1: f64, x2: f64, y2: f64, class: &str) -> Element {
    let l = svg("line");
    set_nums(&l, &[("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)]);
    set_attr(&l, "class", class);
    l
}

fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 || (step >= 1.0 && step.fract() == 0.0) {
        format!("{}", v.round() as i64)
    } else if (step * 10.0).fract() < 1e-9 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Redraws the chart into `host`. `target`: the bookings the run should
/// end with (a dashed line), if known.
pub fn draw(host: &Element, samples: &[Sample], target: Option<u64>) {
    clear(host);
    let root = svg("svg");
    set_attr(&root, "viewBox", &format!("0 0 {W} {H}"));
    set_attr(&root, "role", "img");
    set_attr(&root, "aria-label", "Cumulative bookings and conflicts against seconds since the start");
    set_attr(&root, "class", "chart");

    let (t_step, t_max) = axis(samples.last().map_or(1.0, |s| s.t).max(0.1));
    let y_top = samples.iter().map(|s| s.booked.max(s.conflicts)).max().unwrap_or(0).max(target.unwrap_or(0));
    let (y_step, y_max) = axis((y_top as f64).max(10.0));
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t: f64| LEFT + pw * (t / t_max).clamp(0.0, 1.0);
    let y = |v: f64| TOP + ph * (1.0 - (v / y_max).clamp(0.0, 1.0));

    // Grid and ticks.
    let steps = |max: f64, step: f64| (0..=((max / step).round() as u32)).map(move |i| f64::from(i) * step);
    for v in steps(y_max, y_step) {
        append(&root, &line(LEFT, y(v), W - RIGHT, y(v), if v == 0.0 { "axis" } else { "grid" }));
        append(&root, &label(LEFT - 8.0, y(v) + 4.0, &fmt_tick(v, y_step), "tick y"));
    }
    for t in steps(t_max, t_step) {
        append(&root, &line(x(t), TOP, x(t), H - BOTTOM, if t == 0.0 { "axis" } else { "grid" }));
        append(&root, &label(x(t), H - BOTTOM + 18.0, &fmt_tick(t, t_step), "tick x"));
    }
    append(&root, &label(LEFT + pw / 2.0, H - 6.0, "seconds since the workers were told to start", "axis-title"));
    let yt = label(14.0, TOP + ph / 2.0, "count (cumulative)", "axis-title");
    set_attr(&yt, "transform", &format!("rotate(-90 14 {:.2})", TOP + ph / 2.0));
    append(&root, &yt);

    if let Some(target) = target {
        append(&root, &line(LEFT, y(target as f64), W - RIGHT, y(target as f64), "target"));
    }

    // Series.
    let series = |f: &dyn Fn(&Sample) -> u64, class: &str| {
        let pts: Vec<String> = std::iter::once(Sample::default())
            .chain(samples.iter().copied())
            .map(|s| format!("{:.2},{:.2}", x(s.t), y(f(&s) as f64)))
            .collect();
        let pl = svg("polyline");
        set_attr(&pl, "points", &pts.join(" "));
        set_attr(&pl, "class", class);
        pl
    };
    if samples.is_empty() {
        append(&root, &label(LEFT + pw / 2.0, TOP + ph / 2.0, "Press Start: the race is drawn here", "empty"));
    } else {
        append(&root, &series(&|s| s.conflicts, "series conflicts"));
        append(&root, &series(&|s| s.booked, "series booked"));
    }

    // Legend, above the plot.
    let mut lx = LEFT;
    let mut entries = vec![("bookings", "swatch booked"), ("conflicts (refused commits, retried)", "swatch conflicts")];
    if target.is_some() {
        entries.push(("expected bookings", "swatch target"));
    }
    for (text, class) in entries {
        append(&root, &line(lx, 18.0, lx + 22.0, 18.0, class));
        append(&root, &label(lx + 28.0, 22.0, text, "legend"));
        lx += 28.0 + 6.2 * text.len() as f64 + 20.0;
    }
    append(host, &root);
}

#[cfg(test)]
mod tests {
    use super::{axis, nice_ceil};

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(1.0), 1.0);
        assert_eq!(nice_ceil(1.2), 2.0);
        assert_eq!(nice_ceil(3.0), 5.0);
        assert_eq!(nice_ceil(7.0), 10.0);
        assert_eq!(nice_ceil(1000.0), 1000.0);
        assert_eq!(nice_ceil(1001.0), 2000.0);
        assert!((nice_ceil(0.3) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn axes_end_near_the_data() {
        assert_eq!(axis(10.5), (2.5, 12.5));
        assert_eq!(axis(1960.0), (500.0, 2000.0));
        assert_eq!(axis(1000.0), (200.0, 1000.0));
        assert_eq!(axis(3.2), (1.0, 4.0));
        assert_eq!(axis(10.0), (2.0, 10.0));
    }
}
