//! The dashboard's bar chart as inline SVG, laid out here so the template only places
//! numbers: no script, no inline styles (the CSP allows neither); colours come from
//! classes in app.css.

use chrono::Timelike;

use crate::execution_log::stats::{Bucket, Window};

pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 34.0;

/// One hour: a delivered bar with the failed stacked on top. Coordinates are ready to
/// print.
pub struct Bar {
    pub x: String,
    pub width: String,
    pub delivered_y: String,
    pub delivered_h: String,
    pub failed_y: String,
    pub failed_h: String,
    /// `2026-11-28 09:00`, for the tooltip and the table.
    pub hour: String,
    pub delivered: i64,
    pub failed: i64,
}

pub struct Tick {
    pub pos: String,
    pub label: String,
}

pub struct Chart {
    pub title: String,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub left: String,
    pub right: String,
    pub baseline: String,
    pub top: String,
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// The smallest 1, 2 or 5 × 10ⁿ at least `v` (at least 1).
fn nice_ceiling(v: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= v {
                return m * step;
            }
        }
        step *= 10;
    }
}

pub fn chart(buckets: &[Bucket], window: Window) -> Chart {
    let max = nice_ceiling(
        buckets
            .iter()
            .map(|b| b.delivered + b.failed)
            .max()
            .unwrap_or(0),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = HEIGHT - BOTTOM;
    let slot = plot_w / buckets.len().max(1) as f64;
    let gap = if slot > 4.0 { 1.0 } else { 0.0 };
    let scale = |v: i64| v as f64 * plot_h / max as f64;
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let dh = scale(b.delivered);
            let fh = scale(b.failed);
            Bar {
                x: n(LEFT + i as f64 * slot + gap / 2.0),
                width: n(slot - gap),
                delivered_y: n(base - dh),
                delivered_h: n(dh),
                failed_y: n(base - dh - fh),
                failed_h: n(fh),
                hour: b.start.format("%Y-%m-%d %H:%M").to_string(),
                delivered: b.delivered,
                failed: b.failed,
            }
        })
        .collect();
    let mut y_values = vec![0, max / 2, max];
    y_values.dedup();
    let y_ticks = y_values
        .into_iter()
        .map(|v| Tick {
            pos: n(base - scale(v)),
            label: v.to_string(),
        })
        .collect();
    // A label every 6 hours over a day, every day over a week.
    let (every, fmt) = match window {
        Window::Day => (6, "%H:%M"),
        Window::Week => (24, "%m-%d"),
    };
    let x_ticks = buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| (b.start.hour() as usize).is_multiple_of(every))
        .map(|(i, b)| Tick {
            pos: n(LEFT + (i as f64 + 0.5) * slot),
            label: b.start.format(fmt).to_string(),
        })
        .collect();
    let label = match window {
        Window::Day => "the last 24 hours",
        Window::Week => "the last 7 days",
    };
    Chart {
        title: format!("Deliveries per hour over {label}: delivered and failed"),
        bars,
        y_ticks,
        x_ticks,
        left: n(LEFT),
        right: n(WIDTH - RIGHT),
        baseline: n(base),
        top: n(TOP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_a_round_number() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(200), 200);
    }
}
