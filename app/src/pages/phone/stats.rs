//! My Stats: the agent's own day so far, by the product's stat definitions (the same figures
//! as the admins' agent time report, added up on the server by one definition), fetched when
//! the agent's state changes and every few seconds while the panel is open — for display
//! only; nothing on the phone waits for it.
//!
//! The day is the agent's own: it starts at midnight by the browser's clock and time zone.

use leptos::prelude::*;

use crate::api::phone::load_my_day;
use crate::model::{AgentDay, MyDay};
use crate::pages::widgets::ErrorBanner;

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const DAY_MS: i64 = 86_400_000;
/// How often an open panel fetches again while nothing changes (the current state grows).
const REFRESH_MS: f64 = 5_000.0;

/// The browser's offset from UTC (local = UTC + offset), in ms; 0 on the server.
pub(super) fn local_offset_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        -(js_sys::Date::new_0().get_timezone_offset() as i64) * 60_000
    }
    #[cfg(not(feature = "hydrate"))]
    0
}

/// `HH:MM:SS` of a moment (Unix ms) on the browser's clock.
pub(super) fn local_time(ms: i64) -> String {
    let s = (ms + local_offset_ms()).div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The first millisecond of the local day `now` (Unix ms) is in.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn day_start(now: i64, offset: i64) -> i64 {
    (now + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

/// `part` of `whole` in whole percent, rounded half up; `None` of nothing. (Integers: float
/// formatting would add its code to the phone's bundle for one figure.)
fn percent(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| (part * 200 + whole) / (whole * 2))
}

/// `h:mm:ss` of whole seconds, always with the hours (so figures line up).
fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Unix ms by the browser's clock (0 on the server, which never fetches these).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    0
}

/// Fetches the agent's day so far in the background and hands it to `done` (browser only).
fn fetch(done: impl FnOnce(Result<MyDay, crate::model::ApiError>) + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        let now = now_ms();
        done(load_my_day(day_start(now, local_offset_ms())).await);
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (done, load_my_day);
}

/// The My Stats panel. `changed` names what the agent is doing (a new value fetches again);
/// `tick` is a ticking clock (ms) that refreshes an open panel every few seconds, or a
/// constant where nothing changes (before a shift).
#[component]
pub fn MyStats(
    #[prop(into)] changed: Signal<String>,
    #[prop(into)] tick: Signal<f64>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let key = Memo::new(move |_| {
        let tick = if open.get() { (tick.get() / REFRESH_MS).floor() as i64 } else { 0 };
        (open.get(), changed.get(), tick)
    });
    // The last figures stay on screen while the next ones load. (A plain task writing
    // signals: lighter in the phone's bundle than a resource.)
    let shown = RwSignal::new(None::<MyDay>);
    let error = RwSignal::new(None);
    Effect::new(move |_| {
        let (open, ..) = key.get();
        if open {
            fetch(move |day| match day {
                Ok(d) => {
                    shown.set(Some(d));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            });
        }
    });
    view! {
        <section class="card my-stats" data-testid="my-stats">
            <h2>
                <button type="button" class="link" aria-expanded=move || open.get().to_string()
                    aria-controls="my-stats-figures" data-testid="my-stats-toggle"
                    on:click=move |_| open.update(|o| *o = !*o)>
                    "My Stats"
                </button>
            </h2>
            <Show when=move || open.get()>
                {move || error.get().map(|error| view! { <ErrorBanner error /> })}
                <div id="my-stats-figures" aria-live="off">
                    {move || shown.get().map(|d| view! { <Figures stats=d.stats /> })}
                </div>
            </Show>
        </section>
    }
}

#[component]
fn Figures(stats: AgentDay) -> impl IntoView {
    let time = |at: Option<i64>| at.map_or_else(|| "—".to_string(), local_time);
    let conversion =
        percent(stats.sales, stats.handled).map_or_else(|| "—".to_string(), |p| format!("{p} %"));
    let row = |label: &'static str, key: &'static str, value: String, seconds: Option<i64>| {
        view! {
            <dt>{label}</dt>
            <dd data-stat=key data-seconds=seconds.map(|s| s.to_string())>{value}</dd>
        }
    };
    let pauses = stats
        .pauses
        .iter()
        .map(|(reason, s)| {
            view! {
                <li data-reason=reason.clone() data-seconds=s.to_string()>
                    {format!("{reason}: {}", span(*s))}
                </li>
            }
        })
        .collect_view();
    let secs = |s: i64| (span(s), Some(s));
    let figures = [
        ("First activity", "first", (time(stats.first_activity), None)),
        ("Last activity", "last", (time(stats.last_activity), None)),
        ("Login time", "login", secs(stats.login_seconds)),
        ("Total calls", "calls", (stats.calls.to_string(), None)),
        ("Break time", "break", secs(stats.break_seconds)),
        ("Pause time", "pause", secs(stats.pause_seconds)),
        ("Available time", "available", secs(stats.available_seconds)),
        ("Talk time", "talk", secs(stats.talk_seconds)),
        ("Wrap-up time", "wrapup", secs(stats.wrapup_seconds)),
        ("Calls handled", "handled", (stats.handled.to_string(), None)),
        ("Conversion rate", "conversion", (conversion, None)),
    ];
    view! {
        <dl class="facts">
            {figures.into_iter().map(|(label, key, (value, s))| row(label, key, value, s)).collect_view()}
        </dl>
        <h3>"Pause time by reason"</h3>
        <ul data-testid="stat-pauses">{pauses}</ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_local_midnight() {
        let noon_utc = 1_796_342_400_000 + 12 * 3_600_000;
        assert_eq!(day_start(noon_utc, 0), 1_796_342_400_000);
        // UTC-5 (New York in winter): local midnight is 05:00 UTC.
        assert_eq!(day_start(noon_utc, -5 * 3_600_000), 1_796_342_400_000 + 5 * 3_600_000);
        // UTC+14, already the next day there.
        assert_eq!(day_start(noon_utc, 14 * 3_600_000), 1_796_342_400_000 + 10 * 3_600_000);
        assert_eq!(span(3_725), "1:02:05");
        assert_eq!(span(0), "0:00:00");
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(1, 8), Some(13), "12.5 rounds up");
        assert_eq!(percent(1, 1), Some(100));
        assert_eq!(percent(0, 0), None);
    }
}
