//! The compliance report (`/admin/compliance`, and `/admin/compliance.csv`): one campaign's
//! last 30 days as a regulator would ask about them — the abandon rate by day and over the
//! campaign's accounting window against its cap, and the things that must never happen:
//! calls outside the calling window in the lead's own time, calls without caller ID, and
//! redials within 72 hours of an abandoned call.
//!
//! Invariants: days are UTC days, newest first, every day of the period present (quiet ones
//! too); the rolling figures of a day cover the 30 days ending with it; a share is `None`
//! when nothing was answered.

use serde::{Deserialize, Serialize};

use super::campaign::AbandonWindow;
use super::ids::CampaignId;
use super::report::csv_cell;
use super::text::Name;
use super::wallboard::percent;

/// Days the report shows.
pub const REPORT_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// One UTC day of a campaign's calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceDay {
    /// The day's first millisecond (UTC).
    pub day: i64,
    pub dialed: u64,
    /// Calls a person answered (by the day they were answered).
    pub answered: u64,
    /// Of those, the ones no agent reached in time.
    pub abandoned: u64,
    /// Over the 30 days ending with this one.
    pub rolling_answered: u64,
    pub rolling_abandoned: u64,
    /// Calls placed while the calling window was closed in the lead's time zone (callbacks a
    /// person asked for at that time excepted). Must be 0.
    pub outside_hours: u64,
    /// Calls that presented no caller ID. Must be 0.
    pub without_caller_id: u64,
    /// Calls to a lead within 72 hours after a call to it was abandoned. Must be 0 where the
    /// campaign counts per calendar day (the UK rule).
    pub redials_after_abandon: u64,
}

impl ComplianceDay {
    pub fn abandon_percent(&self) -> Option<f64> {
        percent(self.abandoned, self.answered)
    }

    pub fn rolling_percent(&self) -> Option<f64> {
        percent(self.rolling_abandoned, self.rolling_answered)
    }

    /// The rate the campaign's cap is held to on this day.
    pub fn accounted_percent(&self, window: AbandonWindow) -> Option<f64> {
        match window {
            AbandonWindow::Rolling30Days => self.rolling_percent(),
            AbandonWindow::CalendarDay => self.abandon_percent(),
        }
    }
}

/// A campaign's compliance over the last [`REPORT_DAYS`] days.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// The campaign reported (`None` when there is no campaign at all).
    pub campaign: Option<CampaignId>,
    pub name: Option<Name>,
    pub cap_percent: f64,
    pub window: AbandonWindow,
    /// Newest first.
    pub days: Vec<ComplianceDay>,
    /// Every campaign, for the picker.
    pub campaigns: Vec<(CampaignId, Name)>,
}

impl ComplianceReport {
    /// The report's days from per-day counts (any order, older days for the rolling figures
    /// included): the [`REPORT_DAYS`] days ending with the one `today` falls in, newest
    /// first, each with its rolling 30 days.
    pub fn days_from(counts: &[ComplianceDay], today: i64) -> Vec<ComplianceDay> {
        let last = today.div_euclid(DAY_MS);
        (0..REPORT_DAYS)
            .map(|back| {
                let n = last - back;
                let mut day = counts
                    .iter()
                    .filter(|c| c.day.div_euclid(DAY_MS) == n)
                    .fold(ComplianceDay { day: n * DAY_MS, ..ComplianceDay::default() }, add);
                for c in counts {
                    let d = c.day.div_euclid(DAY_MS);
                    if d <= n && d > n - REPORT_DAYS {
                        day.rolling_answered += c.answered;
                        day.rolling_abandoned += c.abandoned;
                    }
                }
                day
            })
            .collect()
    }

    /// The whole period added up (its rolling figures are the newest day's).
    pub fn total(&self) -> ComplianceDay {
        let mut t = self.days.iter().fold(ComplianceDay::default(), add);
        if let Some(newest) = self.days.first() {
            t.day = newest.day;
            t.rolling_answered = newest.rolling_answered;
            t.rolling_abandoned = newest.rolling_abandoned;
        }
        t
    }

    /// Days on which the accounted abandon rate was over the cap.
    pub fn days_over_cap(&self) -> usize {
        self.days
            .iter()
            .filter(|d| d.accounted_percent(self.window).is_some_and(|p| p > self.cap_percent))
            .count()
    }
}

fn add(mut acc: ComplianceDay, c: &ComplianceDay) -> ComplianceDay {
    acc.dialed += c.dialed;
    acc.answered += c.answered;
    acc.abandoned += c.abandoned;
    acc.outside_hours += c.outside_hours;
    acc.without_caller_id += c.without_caller_id;
    acc.redials_after_abandon += c.redials_after_abandon;
    acc
}

/// The CSV file's first line.
pub const COMPLIANCE_CSV_HEADER: &str = "campaign,day,dialled,answered,abandoned,abandon_rate_percent,rolling_30_day_answered,rolling_30_day_abandoned,rolling_30_day_rate_percent,cap_percent,outside_hours,without_caller_id,redials_after_abandon\r\n";

/// The report as CSV rows (after [`COMPLIANCE_CSV_HEADER`]), newest day first.
pub fn compliance_csv(report: &ComplianceReport) -> String {
    let name = report.name.as_ref().map(|n| n.as_str()).unwrap_or("");
    let rate = |p: Option<f64>| p.map(|p| format!("{p:.2}")).unwrap_or_default();
    let mut out = String::from(COMPLIANCE_CSV_HEADER);
    for d in &report.days {
        let day = super::report::format_day(d.day);
        out.push_str(&format!(
            "{},{day},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            csv_cell(name),
            d.dialed,
            d.answered,
            d.abandoned,
            rate(d.abandon_percent()),
            d.rolling_answered,
            d.rolling_abandoned,
            rate(d.rolling_percent()),
            report.cap_percent,
            d.outside_hours,
            d.without_caller_id,
            d.redials_after_abandon,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64, answered: u64, abandoned: u64) -> ComplianceDay {
        ComplianceDay {
            day: n * DAY_MS + 5,
            dialed: answered * 4,
            answered,
            abandoned,
            ..Default::default()
        }
    }

    #[test]
    fn every_day_of_the_period_with_its_rolling_thirty_days() {
        let today = 100 * DAY_MS + 3_600_000;
        let counts = vec![
            day(100, 100, 2),
            day(99, 50, 1),
            day(71, 10, 10),  // the first day of the 30 ending today
            day(70, 1000, 0), // one day older: only in older days' windows
            ComplianceDay { day: 95 * DAY_MS, outside_hours: 1, ..Default::default() },
        ];
        let days = ComplianceReport::days_from(&counts, today);
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].day, 100 * DAY_MS, "newest first, at the day's start");
        assert_eq!(days[29].day, 71 * DAY_MS);
        assert_eq!((days[0].answered, days[0].abandoned), (100, 2));
        assert_eq!((days[0].rolling_answered, days[0].rolling_abandoned), (160, 13));
        // Day 99's window reaches back to day 70.
        assert_eq!((days[1].rolling_answered, days[1].rolling_abandoned), (1060, 11));
        assert_eq!(days[5].outside_hours, 1);
        assert_eq!(days[3].answered, 0, "a quiet day is there too");
        assert_eq!(days[3].abandon_percent(), None);

        let report = ComplianceReport {
            cap_percent: 3.0,
            window: AbandonWindow::CalendarDay,
            days: days.clone(),
            ..Default::default()
        };
        let total = report.total();
        assert_eq!((total.answered, total.abandoned, total.outside_hours), (160, 13, 1));
        assert_eq!(total.rolling_answered, 160);
        // Per calendar day only day 71 (100 %) is over 3 %; over 30 days none of the days.
        assert_eq!(report.days_over_cap(), 1);
        let rolling = ComplianceReport { window: AbandonWindow::Rolling30Days, ..report.clone() };
        // Day 70's thousand clean calls dilute every window but today's (days 71–100).
        assert_eq!(rolling.days_over_cap(), 1);
        assert_eq!(rolling.days.iter().position(|d| d.rolling_percent() > Some(3.0)), Some(0));

        let csv = compliance_csv(&ComplianceReport {
            name: Some(Name::parse("=Spring").unwrap()),
            ..report
        });
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 31);
        assert!(lines[0].starts_with("campaign,day,dialled"));
        assert!(lines[1].starts_with("'=Spring,"), "a formula is never run: {}", lines[1]);
        assert!(lines[1].contains(",100,2,2.00,160,13,8.12,3,0,0,0"), "{}", lines[1]);
    }
}
