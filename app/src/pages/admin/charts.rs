//! Light charts for the supervisor's pages, drawn as inline SVG by the page itself (no
//! charting library in the bundle): stacked columns (over minutes or hours), and a pie. Every chart has its
//! numbers on hover (an SVG `<title>` per column or slice, which browsers show as a tooltip
//! and screen readers read) and the same numbers as a table for people who read rather than
//! look.
//!
//! The geometry is plain functions of the data ([`scale_max`], [`slice_path`]), tested here;
//! colours come from the stylesheet by class, so the charts follow the page's theme.

use leptos::prelude::*;

use crate::pages::widgets::format_utc;

/// One stacked series of a column chart: a name people read, its CSS class, a value per
/// column.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: &'static str,
    pub class: &'static str,
    pub values: Vec<u32>,
}

/// The plot's size in SVG units (the SVG scales to the width of its box).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
/// Room under the plot for the time labels.
const AXIS: f64 = 18.0;

/// The top of the value axis: the smallest of 1, 2, 5, 10, 20, 50… at or above `max`, so the
/// one grid line has a round number.
pub fn scale_max(max: u32) -> u32 {
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            let top = step.saturating_mul(m);
            if top >= max {
                return top;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// `HH:MM` (UTC) of a time.
pub fn hour_minute(ms: i64) -> String {
    format_utc(ms)[11..16].to_string()
}

/// Columns of stacked series, one per label: the wallboard's minutes, the hourly report's
/// hours. Every `tick_every`-th label (and the last) is written under the plot; the table
/// lists the columns newest first when `newest_first`. `key` names the chart for tests and
/// styles (`data-chart`).
#[component]
pub fn ColumnChart(
    caption: &'static str,
    key: &'static str,
    labels: Vec<String>,
    tick_every: usize,
    series: Vec<Series>,
    #[prop(optional)] newest_first: bool,
) -> impl IntoView {
    let columns = labels.len();
    let totals: Vec<u32> = (0..columns).map(|i| series.iter().map(|s| s.values[i]).sum()).collect();
    let top = scale_max(totals.iter().copied().max().unwrap_or(0));
    let unit = HEIGHT / f64::from(top);
    let width = WIDTH / columns.max(1) as f64;
    let bars = (0..columns)
        .map(|i| {
            let tip = format!(
                "{}: {}",
                labels[i],
                series
                    .iter()
                    .map(|s| format!("{} {}", s.label.to_lowercase(), s.values[i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut y = HEIGHT;
            let rects = series
                .iter()
                .filter(|s| s.values[i] > 0)
                .map(|s| {
                    let h = f64::from(s.values[i]) * unit;
                    y -= h;
                    view! {
                        <rect class=s.class x=format!("{:.1}", i as f64 * width + 0.5)
                            y=format!("{y:.1}") width=format!("{:.1}", (width - 1.0).max(0.5))
                            height=format!("{h:.1}") />
                    }
                })
                .collect_view();
            // A transparent full-height rectangle gives every column a hover target, empty
            // ones too.
            view! {
                <g data-column=i>
                    <title>{tip}</title>
                    <rect class="hover" x=format!("{:.1}", i as f64 * width) y="0"
                        width=format!("{width:.1}") height=format!("{HEIGHT:.1}") />
                    {rects}
                </g>
            }
        })
        .collect_view();
    let ticks = (0..columns)
        .filter(|i| i % tick_every.max(1) == 0 || *i + 1 == columns)
        .map(|i| {
            let x = i as f64 * width + width / 2.0;
            let anchor = if i == 0 {
                "start"
            } else if i + 1 == columns {
                "end"
            } else {
                "middle"
            };
            view! {
                <text class="tick" x=format!("{x:.1}") y=format!("{:.1}", HEIGHT + 14.0)
                    text-anchor=anchor>{labels[i].clone()}</text>
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .map(|s| view! { <li><span class=format!("swatch {}", s.class)></span>{s.label}</li> })
        .collect_view();
    let head = series.iter().map(|s| view! { <th>{s.label}</th> }).collect_view();
    let order: Vec<usize> =
        if newest_first { (0..columns).rev().collect() } else { (0..columns).collect() };
    let rows = order
        .into_iter()
        .map(|i| {
            let cells = series.iter().map(|s| view! { <td>{s.values[i]}</td> }).collect_view();
            view! { <tr data-column=i><td>{labels[i].clone()}</td>{cells}</tr> }
        })
        .collect_view();
    view! {
        <figure class="chart" data-chart=key>
            <figcaption>{caption}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {}", HEIGHT + AXIS) role="img"
                aria-label=format!("{caption}: one column each, up to {top}")
                preserveAspectRatio="none">
                <line class="grid" x1="0" y1="0.5" x2=format!("{WIDTH}") y2="0.5" />
                <text class="tick" x="2" y="11">{top}</text>
                <line class="axis" x1="0" y1=format!("{HEIGHT}") x2=format!("{WIDTH}") y2=format!("{HEIGHT}") />
                {bars}
                {ticks}
            </svg>
            <ul class="legend">{legend}</ul>
            <details>
                <summary>{if newest_first { "As a table, newest first" } else { "As a table" }}</summary>
                <table class="grid compact">
                    <thead><tr><th>""</th>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

/// The SVG path of a pie slice from `from` to `to` (fractions of the whole, 0 at twelve
/// o'clock, clockwise) in a circle of radius `r` around (`r`, `r`). A whole circle cannot be
/// one arc; the caller draws a circle for a single slice.
pub fn slice_path(r: f64, from: f64, to: f64) -> String {
    let point = |f: f64| {
        let a = f * std::f64::consts::TAU;
        (r + r * a.sin(), r - r * a.cos())
    };
    let (x0, y0) = point(from);
    let (x1, y1) = point(to);
    let large = u8::from(to - from > 0.5);
    format!("M{r:.2},{r:.2} L{x0:.2},{y0:.2} A{r:.2},{r:.2} 0 {large} 1 {x1:.2},{y1:.2} Z")
}

/// Slice colours, in turn.
const SLICES: usize = 8;

/// A pie of counts by name (the wallboard's dispositions), with a legend giving each count
/// and share.
#[component]
pub fn PieChart(
    caption: &'static str,
    key: &'static str,
    empty: &'static str,
    slices: Vec<(String, u64)>,
) -> impl IntoView {
    let total: u64 = slices.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return view! {
            <figure class="chart" data-chart=key>
                <figcaption>{caption}</figcaption>
                <p class="muted" data-testid=format!("{key}-empty")>{empty}</p>
            </figure>
        }
        .into_any();
    }
    const R: f64 = 70.0;
    let share = |n: u64| n as f64 / total as f64;
    let mut at = 0.0;
    let paths = slices
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (name, n))| {
            let (from, to) = (at, at + share(*n));
            at = to;
            let class = format!("slice s{}", i % SLICES);
            let tip = format!("{name}: {n} ({:.0} %)", share(*n) * 100.0);
            if *n == total {
                view! { <circle class=class cx=format!("{R}") cy=format!("{R}") r=format!("{R}")><title>{tip}</title></circle> }.into_any()
            } else {
                view! { <path class=class d=slice_path(R, from, to)><title>{tip}</title></path> }
                    .into_any()
            }
        })
        .collect_view();
    let legend = slices
        .iter()
        .enumerate()
        .map(|(i, (name, n))| {
            view! {
                <li data-slice=name.clone() data-count=*n>
                    <span class=format!("swatch slice s{}", i % SLICES)></span>
                    <span class="name">{name.clone()}</span>
                    " "
                    <span class="count">{*n}</span>
                    <span class="muted">{format!(" ({:.0} %)", share(*n) * 100.0)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <figure class="chart pie" data-chart=key>
            <figcaption>{caption}</figcaption>
            <div class="pie-body">
                <svg viewBox=format!("0 0 {} {}", 2.0 * R, 2.0 * R) role="img"
                    aria-label=format!("{caption}: {total} in all")>
                    {paths}
                </svg>
                <ul class="legend">{legend}</ul>
            </div>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(scale_max(0), 1);
        assert_eq!(scale_max(1), 1);
        assert_eq!(scale_max(2), 2);
        assert_eq!(scale_max(3), 5);
        assert_eq!(scale_max(7), 10);
        assert_eq!(scale_max(11), 20);
        assert_eq!(scale_max(499), 500);
        assert_eq!(scale_max(501), 1000);
        assert!(scale_max(u32::MAX) >= u32::MAX - 1, "no endless loop at the top");
    }

    #[test]
    fn slices_start_at_twelve_and_turn_clockwise() {
        // A quarter: from the top (70,0) to the right (140,70), the short way round.
        assert_eq!(
            slice_path(70.0, 0.0, 0.25),
            "M70.00,70.00 L70.00,0.00 A70.00,70.00 0 0 1 140.00,70.00 Z"
        );
        // Three quarters from the right: the long way round, ending at the top.
        let p = slice_path(70.0, 0.25, 1.0);
        assert!(p.contains(" 0 1 1 70.00,0.00 Z"), "{p}");
    }
}
