//! Small pieces shared by pages: error and success banners, number tiles, time formatting.

use leptos::prelude::*;

use crate::model::ApiError;

/// The outcome of a form's server call, as a banner: nothing while idle, the error in red, or
/// `success` in green.
#[component]
pub fn Outcome<T, F>(value: F, #[prop(into)] success: Signal<String>) -> impl IntoView
where
    T: 'static,
    F: Fn() -> Option<Result<T, ApiError>> + Send + Sync + 'static,
{
    move || match value() {
        None => None,
        Some(Ok(_)) => {
            Some(view! { <p class="banner ok" role="status">{success.get()}</p> }.into_any())
        }
        Some(Err(error)) => Some(view! { <ErrorBanner error /> }.into_any()),
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

/// Formats Unix milliseconds as `YYYY-MM-DD HH:MM UTC`, the same on server and browser (so
/// hydration matches) and without a time-zone database.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_307_400_000), "2026-11-22 00:30 UTC");
        assert_eq!(format_utc(-60_000), "1969-12-31 23:59 UTC");
    }
}
