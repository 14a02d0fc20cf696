//! Small pieces shared by pages: error and success banners, number tiles, time formatting.

use leptos::prelude::*;

use crate::model::report::civil_from_days;
use crate::model::{ApiError, CallCounts, LeadCounts};

/// Which form's outcome banner the page shows: only the latest to answer, so a stale "Saved."
/// never stays stacked under the next message. Provided once by the app; `Outcome`s take a
/// number each from `next`.
#[derive(Clone, Copy)]
pub struct LatestBanner {
    shown: RwSignal<u64>,
    next: StoredValue<u64>,
}

impl LatestBanner {
    pub fn new() -> LatestBanner {
        LatestBanner { shown: RwSignal::new(0), next: StoredValue::new(0) }
    }

    fn take_number(&self) -> u64 {
        self.next.update_value(|n| *n += 1);
        self.next.get_value()
    }
}

impl Default for LatestBanner {
    fn default() -> LatestBanner {
        LatestBanner::new()
    }
}

/// The outcome of a form's server call, as a banner: nothing while idle, the error in red, or
/// `success` in green. Of all the outcomes on the page, only the one that answered last is
/// shown (see `LatestBanner`).
#[component]
pub fn Outcome<T, F>(value: F, #[prop(into)] success: Signal<String>) -> impl IntoView
where
    T: 'static,
    F: Fn() -> Option<Result<T, ApiError>> + Send + Sync + 'static,
{
    let latest = use_context::<LatestBanner>();
    let me = latest.map(|l| l.take_number()).unwrap_or(0);
    let value = std::sync::Arc::new(value);
    let answered = value.clone();
    // Effects run in the browser only, where answers arrive: each answer makes its banner
    // the page's latest.
    Effect::new(move |_| {
        if answered().is_some()
            && let Some(l) = latest
        {
            l.shown.set(me);
        }
    });
    move || {
        if latest.is_some_and(|l| l.shown.get() != me) {
            return None;
        }
        match value() {
            None => None,
            Some(Ok(_)) => {
                Some(view! { <p class="banner ok" role="status">{success.get()}</p> }.into_any())
            }
            Some(Err(error)) => Some(view! { <ErrorBanner error /> }.into_any()),
        }
    }
}

/// Clears `form` each time its action succeeds, so the next entry starts empty (browser only;
/// effects do not run on the server).
pub fn reset_on_success<T, F>(form: NodeRef<leptos::html::Form>, result: F)
where
    T: 'static,
    F: Fn() -> Option<Result<T, ApiError>> + 'static,
{
    Effect::new(move |_| {
        if matches!(result(), Some(Ok(_)))
            && let Some(f) = form.get()
        {
            f.reset();
        }
    });
}

/// An error message in words, with `role="alert"` so screen readers announce it.
#[component]
pub fn ErrorBanner(error: ApiError) -> impl IntoView {
    view! { <p class="banner error" role="alert">{error.to_string()}</p> }
}

/// A number with its label, one tile of a `.stats` row; `key` names it for tests
/// (`data-stat`).
#[component]
pub fn Stat(label: &'static str, value: u64, key: &'static str) -> impl IntoView {
    view! {
        <div class="stat" data-stat=key>
            <span class="stat-value">{value}</span>
            <span class="stat-label">{label}</span>
        </div>
    }
}

/// A rate as people read it (`12.5 %`), or a dash when there is nothing to divide by.
pub fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "—".to_string(), |p| format!("{p:.1} %"))
}

/// A call recording's player (it loads only the file's header until played) and download
/// link, served by `GET /recordings/{attempt}`.
pub fn recording_player(attempt: i64) -> impl IntoView {
    let src = format!("/recordings/{attempt}");
    view! {
        <audio controls preload="metadata" src=src.clone() aria-label="Call recording" data-testid="recording-player"></audio>
        " "
        <a href=src download=format!("call-{attempt}.wav") data-testid="recording-download">"Download"</a>
    }
}

/// A call's recording cell: the player when it can be played, "Recording failed" when it
/// failed (nothing otherwise).
pub fn recording_cell(recording: Option<i64>, failed: bool) -> impl IntoView {
    match (recording, failed) {
        (Some(attempt), _) => Some(recording_player(attempt).into_any()),
        (None, true) => Some(
            view! { <span class="muted" data-testid="recording-failed">"Recording failed"</span> }
                .into_any(),
        ),
        (None, false) => None,
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DD HH:MM UTC`, the same on server and browser (so
/// hydration matches) and without a time-zone database.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// Formats Unix milliseconds as `HH:MM:SS UTC` (see [`format_utc`]).
pub fn format_clock(ms: i64) -> String {
    let rem = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Unix milliseconds as an HTML `datetime` (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
fn html_datetime(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let rem = ms.rem_euclid(86_400_000);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Figures the database counts when asked rather than pushed live: when they were computed,
/// and the button that computes them again ("Computed at 22:30:08 UTC"). While a
/// computation runs the button says so (`aria-busy`) and a second press asks nothing more; it
/// stays focusable throughout (`aria-disabled`, not `disabled`), so a keyboard user keeps
/// their place, and the time is a status that screen readers announce when it moves.
#[component]
pub fn Recompute(
    /// The button's words (`Refresh Lead Stats`).
    label: &'static str,
    /// When the figures shown were computed (Unix ms).
    #[prop(into)]
    at: Signal<i64>,
    /// A computation is running.
    #[prop(into)]
    busy: Signal<bool>,
    /// Why the last one failed, if it did.
    #[prop(into)]
    error: Signal<Option<ApiError>>,
    /// Asks for a computation.
    ask: Callback<()>,
    /// Names it for tests (`data-testid`).
    key: &'static str,
) -> impl IntoView {
    view! {
        <div class="recompute" data-testid=key>
            <button
                type="button"
                aria-busy=move || busy.get().to_string()
                aria-disabled=move || busy.get().to_string()
                on:click=move |_| ask.run(())
            >
                {label}
            </button>
            " "
            <span role="status" class="muted">
                {move || if busy.get() {
                    view! { "Computing…" }.into_any()
                } else {
                    let at = at.get();
                    view! {
                        "Computed at "
                        <time datetime=html_datetime(at) data-at=at>{format_clock(at)}</time>
                    }
                    .into_any()
                }}
            </span>
            {move || error.get().map(|error| view! { <ErrorBanner error /> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{format_clock, format_utc, html_datetime};

    #[test]
    fn clock_times_read_to_the_second() {
        assert_eq!(format_clock(951_782_400_000 + 3_723_456), "01:02:03 UTC");
        assert_eq!(html_datetime(951_782_400_000 + 3_723_456), "2000-02-29T01:02:03.456Z");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_307_400_000), "2026-11-22 00:30 UTC");
        assert_eq!(format_utc(-60_000), "1969-12-31 23:59 UTC");
    }
}

/// A group of leads by where they stand (`LeadCounts`), the same tiles on every page that
/// shows leads; each tile's title says what it counts.
#[component]
pub fn LeadTiles(counts: LeadCounts) -> impl IntoView {
    let tiles = [
        ("Total", counts.total, "total", "Every lead"),
        (
            "Remaining",
            counts.remaining(),
            "remaining",
            "Dialable, callbacks and in progress: what the dialer still has to work through",
        ),
        (
            "Dialable",
            counts.dialable,
            "dialable",
            "Will be called, now or when their retry time comes",
        ),
        (
            "Recyclable",
            counts.recyclable,
            "recyclable",
            "Of the dialable: called before, waiting for another attempt",
        ),
        ("Callbacks", counts.callback, "callback", "Waiting for a scheduled callback"),
        (
            "In progress",
            counts.in_progress,
            "in_progress",
            "Being called, or queued to be called in a moment",
        ),
        (
            "Done",
            counts.done,
            "done",
            "Finished: a final disposition, the attempt cap, or do-not-call",
        ),
        (
            "Held back",
            counts.held_back,
            "held_back",
            "Not finished, yet not called: leadset off or without a campaign, a status the campaign does not take, do-not-call, or over a lowered attempt cap",
        ),
    ];
    tile_row("lead-counts", tiles)
}

/// A group of call attempts by what happened (`CallCounts`), the same tiles on every page.
#[component]
pub fn CallTiles(counts: CallCounts) -> impl IntoView {
    let tiles = [
        ("Dialled", counts.dialed, "dialed", "Every call placed"),
        ("Ringing", counts.ringing, "ringing", "Placed, not answered yet"),
        ("Talking", counts.talking, "talking", "Answered and still up"),
        ("Answered", counts.answered, "answered", "Answered by the person, up or ended"),
        (
            "Failed",
            counts.failed,
            "failed",
            "Busy, no answer, rejected, invalid number, congestion or failed",
        ),
        (
            "Dropped",
            counts.dropped,
            "dropped",
            "Answered with no agent free: hung up by the dialer",
        ),
    ];
    tile_row("call-counts", tiles)
}

/// A `.stats` row of (label, value, key, explanation) tiles, the explanation as a tooltip.
fn tile_row<const N: usize>(
    id: &'static str,
    tiles: [(&'static str, u64, &'static str, &'static str); N],
) -> impl IntoView {
    let tiles = tiles
        .into_iter()
        .map(|(label, value, key, title)| {
            view! {
                <div class="stat" data-stat=key title=title>
                    <span class="stat-value">{value}</span>
                    <span class="stat-label">{label}</span>
                </div>
            }
        })
        .collect_view();
    view! { <div class="stats" data-testid=id>{tiles}</div> }
}

/// `mm:ss` for a duration in milliseconds (`h:mm:ss` from an hour on).
pub fn clock(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0).floor() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}
