//! Call detail records for admins and supervisors: which calls a report shows (a
//! [`CallFilter`], parsed whole from the page's query or refused with the field at fault),
//! each call's line, and the CSV a report downloads as.
//!
//! Invariants: a filter's dates are whole UTC days, `from` inclusive and `to` inclusive, so
//! `until` (the first millisecond after `to`) is always after `from`; a CSV cell never starts
//! something a spreadsheet would run as a formula.

use serde::{Deserialize, Serialize};

use super::CallOutcome;
use super::error::ApiError;
use super::ids::CampaignId;
use super::text::LeadStatus;
use super::user::Username;

/// Which calls a report shows; `None` everywhere is every call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFilter {
    pub campaign: Option<CampaignId>,
    /// The agent's username.
    pub agent: Option<Username>,
    pub outcome: Option<CallOutcome>,
    pub disposition: Option<LeadStatus>,
    /// Dialled at or after (Unix ms, the start of a UTC day).
    pub from: Option<i64>,
    /// Dialled before (Unix ms, the start of the UTC day after the last one asked for).
    pub until: Option<i64>,
}

/// The query fields of a report, as the page's form sends them (all text, empty or left out
/// for "any").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallQuery {
    pub campaign: String,
    pub agent: String,
    pub outcome: String,
    pub disposition: String,
    pub from: String,
    pub to: String,
}

const DAY_MS: i64 = 86_400_000;

impl CallQuery {
    /// The filter these fields ask for, or the first field that is not understood.
    pub fn parse(&self) -> Result<CallFilter, ApiError> {
        let day = |field: &str, raw: &str| -> Result<Option<i64>, ApiError> {
            match raw.trim() {
                "" => Ok(None),
                s => day_start(s).map(Some).ok_or_else(|| {
                    ApiError::invalid(field, "A date is written YYYY-MM-DD, like 2026-12-04.")
                }),
            }
        };
        let outcome =
            match self.outcome.trim() {
                "" => None,
                s => Some(CallOutcome::parse(s).map_err(|_| {
                    ApiError::invalid("outcome", "Choose an outcome from the list.")
                })?),
            };
        let disposition = match self.disposition.trim() {
            "" => None,
            s => Some(LeadStatus::parse(s).map_err(|m| ApiError::invalid("disposition", m))?),
        };
        let from = day("from", &self.from)?;
        let until = day("to", &self.to)?.map(|d| d + DAY_MS);
        if let (Some(f), Some(u)) = (from, until)
            && u <= f
        {
            return Err(ApiError::invalid("to", "The last day comes on or after the first."));
        }
        Ok(CallFilter {
            campaign: super::ids::optional_id("campaign", &self.campaign)?.map(CampaignId),
            agent: match self.agent.trim() {
                "" => None,
                s => Some(Username::parse(s).map_err(|m| ApiError::invalid("agent", m))?),
            },
            outcome,
            disposition,
            from,
            until,
        })
    }

    /// The query string that asks for these fields again (for the CSV link), keys with
    /// nothing in them left out.
    pub fn query_string(&self) -> String {
        [
            ("campaign", &self.campaign),
            ("agent", &self.agent),
            ("outcome", &self.outcome),
            ("disposition", &self.disposition),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Percent-encodes all but unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first millisecond of a UTC day written `YYYY-MM-DD`.
pub(crate) fn day_start(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d == 0
        || d > days_in[m as usize - 1]
    {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * DAY_MS)
}

/// One call of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_ref: String,
    /// When it was dialled (Unix ms).
    pub dialed_at: i64,
    pub campaign: Option<String>,
    pub agent: Option<String>,
    pub phone: String,
    /// The lead's name, as its contact fields have it.
    pub lead: String,
    /// `None` while the call is up.
    pub outcome: Option<CallOutcome>,
    pub sip_code: Option<i64>,
    /// Talk time in seconds, as the agent stats count it: from the bridge to the agent (or the
    /// answer, with no agent) to the end; answered calls that ended only.
    pub talk_seconds: Option<i64>,
    pub disposition: Option<String>,
    pub notes: String,
    /// What answered, when the campaign detected answering machines.
    #[serde(default)]
    pub amd_verdict: Option<super::amd::AmdVerdict>,
    /// The attempt's id when its recording can be played (`/recordings/{id}`).
    #[serde(default)]
    pub recording: Option<i64>,
    /// The call's recording failed (a full disk, say): what there is cannot be played.
    #[serde(default)]
    pub recording_failed: bool,
    /// What a key the customer pressed on a broadcast came to (pressed 1: connected or
    /// abandoned; the DNC key…).
    #[serde(default)]
    pub key_outcome: Option<super::keypad::KeyOutcome>,
    /// The values the agent typed into the script's form.
    #[serde(default)]
    pub form: super::script::FormValues,
}

/// A report: how many calls match, and the newest of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    pub total: u64,
    pub calls: Vec<CallRecord>,
}

impl CallReport {
    /// At most this many calls on the page (the CSV has them all).
    pub const PAGE: u32 = 200;
    /// Calls on a page of an agent's own call history.
    pub const HISTORY_PAGE: u32 = 20;
}

/// The calls CSV's first line.
pub const CALLS_CSV_HEADER: &str = "call,dialed_utc,campaign,agent,phone,lead,outcome,sip_code,talk_seconds,disposition,notes,amd_verdict,form,key_outcome\r\n";

/// The CSV header and one line per call (times as UTC `YYYY-MM-DD HH:MM:SS`).
pub fn calls_csv(calls: &[CallRecord]) -> String {
    let mut out = String::from(CALLS_CSV_HEADER);
    out.push_str(&calls_csv_rows(calls));
    out
}

/// One CSV line per call, without the header (a long file is written a page at a time).
pub fn calls_csv_rows(calls: &[CallRecord]) -> String {
    let mut out = String::new();
    for c in calls {
        let cells = [
            c.call_ref.clone(),
            utc_seconds(c.dialed_at),
            c.campaign.clone().unwrap_or_default(),
            c.agent.clone().unwrap_or_default(),
            c.phone.clone(),
            c.lead.clone(),
            c.outcome.map_or(String::new(), |o| o.as_str().to_string()),
            c.sip_code.map_or(String::new(), |n| n.to_string()),
            c.talk_seconds.map_or(String::new(), |n| n.to_string()),
            c.disposition.clone().unwrap_or_default(),
            c.notes.clone(),
            c.amd_verdict.map_or(String::new(), |v| v.as_str().to_string()),
            // One cell for the script's form, `name: value; …`: a report spans campaigns
            // whose scripts ask different things, and its header is written before the rows.
            c.form.summary(),
            // What a key pressed on a broadcast came to (pressed 1: connected…; 9: dnc).
            c.key_outcome.map_or(String::new(), |k| k.as_str().to_string()),
        ];
        let line: Vec<String> = cells.iter().map(|s| csv_cell(s)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Where a page of the calls report ends: the next page starts after this call (calls are
/// ordered newest first, by dial time and then by row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCursor {
    pub dialed_at: i64,
    pub id: i64,
}

fn utc_seconds(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The UTC date (`YYYY-MM-DD`) of an instant in Unix milliseconds.
pub fn format_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

/// One agent's day, by the product's stat definitions: activity, time logged in and in each
/// state (seconds), calls and how they went. Built by [`AgentDay::tally`] from the agent's
/// sessions, state changes and calls. The admins' agent time report and the agent's own My
/// Stats are both this, so the figures are defined once.
///
/// Invariant: `login_seconds` is `available + talk + wrapup + pause` (every state an agent
/// can be in while logged in is one of those), and `break_seconds` is part of
/// `pause_seconds`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentDay {
    pub username: String,
    /// The first and last state change of the day (Unix ms): a login, a Ready, a call…
    pub first_activity: Option<i64>,
    pub last_activity: Option<i64>,
    /// Logged in to a campaign, whatever the state.
    pub login_seconds: i64,
    /// Ready and waiting for a call.
    pub available_seconds: i64,
    /// On calls (being connected and talking).
    pub talk_seconds: i64,
    pub wrapup_seconds: i64,
    /// Paused for any reason: not receiving calls.
    pub pause_seconds: i64,
    /// Paused for a break ("Break" or "Lunch"): part of `pause_seconds`.
    pub break_seconds: i64,
    /// Pause time by reason, longest first.
    pub pauses: Vec<(String, i64)>,
    /// Calls placed for or handed to the agent.
    pub calls: u64,
    /// Of those, answered and connected to the agent.
    pub handled: u64,
    /// Handled calls disposed with a disposition marked "success" (SALE MADE unless an admin
    /// says otherwise).
    pub sales: u64,
}

/// One row of an agent's state log: the state's stable name, the pause reason, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub state: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// One login to a campaign (Unix ms): from `start` to `end`, `None` while it lasts (or when
/// the server stopped without closing it: see [`AgentDay::tally`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub start: i64,
    pub end: Option<i64>,
}

impl AgentDay {
    /// The pause reasons that count as a break.
    pub const BREAKS: [&'static str; 2] = ["Break", "Lunch"];

    /// Adds up one agent's time in `[from, until)` (`until`: the day's end, or now for
    /// today) from `changes` (in time order: the last change before `from`, if any, then the
    /// day's) and `sessions` (in start order, every one that may overlap the day); `live`
    /// says the agent is logged in right now.
    ///
    /// Each state lasts until the next change; a state that began before the day counts
    /// from `from` (so a shift over midnight is split between the days). Time counts only
    /// inside a session. A session a crashed server left behind (still open when the next
    /// one started, closed only by a later logout, or open while the agent is not logged
    /// in) ends at its last state change: when the server died is not known, and a crash
    /// must never count as hours of Ready. Durations are added up in milliseconds and
    /// rounded down to whole seconds once per figure.
    pub fn tally(
        &mut self,
        changes: &[StateChange],
        sessions: &[Session],
        from: i64,
        until: i64,
        live: bool,
    ) {
        let open: Vec<(i64, i64)> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let next = sessions.get(i + 1).map_or(i64::MAX, |n| n.start);
                let cut = match s.end {
                    Some(end) => end > next,
                    None => next < i64::MAX || !live,
                };
                let end = if cut {
                    changes
                        .iter()
                        .filter(|c| c.at >= s.start && c.at < next)
                        .map(|c| c.at)
                        .max()
                        .unwrap_or(s.start)
                } else {
                    s.end.unwrap_or(i64::MAX)
                };
                (s.start, end.min(next))
            })
            .collect();
        let inside = |a: i64, b: i64| -> i64 {
            open.iter().map(|&(s, e)| (b.min(e) - a.max(s)).max(0)).sum()
        };
        let (mut available, mut talk, mut wrapup, mut pause, mut other, mut breaks) =
            (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
        let mut pauses: std::collections::BTreeMap<String, i64> = Default::default();
        for (i, c) in changes.iter().enumerate() {
            let start = c.at.max(from);
            let end = changes.get(i + 1).map_or(until, |n| n.at).min(until);
            if end <= start {
                continue;
            }
            let ms = inside(start, end);
            match c.state.as_str() {
                "logged_out" => {}
                "ready" => available += ms,
                "reserved" | "in_call" => talk += ms,
                "wrap_up" => wrapup += ms,
                "paused" => {
                    pause += ms;
                    let reason = c.reason.clone().unwrap_or_default();
                    if Self::BREAKS.contains(&reason.as_str()) {
                        breaks += ms;
                    }
                    *pauses.entry(reason).or_default() += ms;
                }
                _ => other += ms,
            }
        }
        let s = |ms: i64| ms / 1000;
        self.available_seconds = s(available);
        self.talk_seconds = s(talk);
        self.wrapup_seconds = s(wrapup);
        self.pause_seconds = s(pause);
        self.break_seconds = s(breaks);
        self.login_seconds = self.available_seconds
            + self.talk_seconds
            + self.wrapup_seconds
            + self.pause_seconds
            + s(other);
        let mut today = changes.iter().filter(|c| c.at >= from && c.at < until);
        self.first_activity = today.next().map(|c| c.at);
        self.last_activity = changes.iter().rfind(|c| c.at >= from && c.at < until).map(|c| c.at);
        let mut pauses: Vec<(String, i64)> =
            pauses.into_iter().filter(|(_, ms)| *ms > 0).map(|(r, ms)| (r, s(ms))).collect();
        pauses.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.pauses = pauses;
    }

    /// Sales per handled call, in percent; `None` with no call handled.
    pub fn conversion_percent(&self) -> Option<f64> {
        super::wallboard::percent(self.sales, self.handled)
    }
}

/// The signed-in agent's own day so far (My Stats), as of `as_of` (the server's clock, Unix
/// ms: the page measures the state it is in from it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MyDay {
    pub as_of: i64,
    pub stats: AgentDay,
}

/// The agents' days of one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTimeReport {
    /// The day's first millisecond (UTC).
    pub day: i64,
    pub agents: Vec<AgentDay>,
}

/// One hour of a campaign's day (or of all campaigns'): its calls and how they went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourSummary {
    /// The hour of the day (UTC), 0–23.
    pub hour: u8,
    /// Dialled, answered, dropped (answered with nobody to take them).
    pub calls: super::wallboard::Rates,
    /// Answered and connected to an agent.
    pub handled: u64,
    /// Handled calls disposed as a sale.
    pub sales: u64,
    /// Time agents talked on the handled calls that ended.
    pub talk_seconds: i64,
}

impl HourSummary {
    /// Sales per handled call, in percent; `None` with no call handled.
    pub fn conversion_percent(&self) -> Option<f64> {
        super::wallboard::percent(self.sales, self.handled)
    }

    /// Average talk time per handled call, in whole seconds.
    pub fn average_talk_seconds(&self) -> Option<i64> {
        (self.handled > 0).then(|| self.talk_seconds / self.handled as i64)
    }

    /// Adds `o`'s calls to these (for the day's total).
    pub fn add(&mut self, o: &HourSummary) {
        self.calls.dialed += o.calls.dialed;
        self.calls.answered += o.calls.answered;
        self.calls.dropped += o.calls.dropped;
        self.handled += o.handled;
        self.sales += o.sales;
        self.talk_seconds += o.talk_seconds;
    }
}

/// A campaign's (or every campaign's) day hour by hour: the per-campaign hourly summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HourlyReport {
    /// The day's first millisecond (UTC).
    pub day: i64,
    /// The campaign reported, or `None` for all.
    pub campaign: Option<super::ids::CampaignId>,
    /// Every campaign, for the picker.
    pub campaigns: Vec<(super::ids::CampaignId, super::text::Name)>,
    /// All 24 hours, in order, empty ones too.
    pub hours: Vec<HourSummary>,
}

impl HourlyReport {
    /// The 24 hours of a day from the hours that had calls (any order; an hour outside 0–23
    /// is ignored).
    pub fn every_hour(with_calls: &[HourSummary]) -> Vec<HourSummary> {
        let mut hours: Vec<HourSummary> =
            (0..24).map(|h| HourSummary { hour: h, ..HourSummary::default() }).collect();
        for h in with_calls {
            if let Some(slot) = hours.get_mut(usize::from(h.hour)) {
                slot.add(h);
            }
        }
        hours
    }

    /// The day's total.
    pub fn total(&self) -> HourSummary {
        let mut t = HourSummary::default();
        for h in &self.hours {
            t.add(h);
        }
        t
    }
}

/// The day a report asks for (`YYYY-MM-DD`, UTC; empty for the day of `now`), as its first
/// millisecond.
pub fn parse_day(raw: &str, now: i64) -> Result<i64, ApiError> {
    match raw.trim() {
        "" => Ok(now.div_euclid(DAY_MS) * DAY_MS),
        s => day_start(s).ok_or_else(|| {
            ApiError::invalid("day", "A date is written YYYY-MM-DD, like 2026-12-04.")
        }),
    }
}

/// A CSV cell: quoted when it holds a delimiter, quote or line break; a leading `=`, `+`, `-`,
/// `@`, tab or carriage return is prefixed with `'` so spreadsheet programs do not run it as
/// a formula (OWASP CSV injection) — except an E.164 number, `+` and digits only, which no
/// spreadsheet runs and which is shown as it is.
pub fn csv_cell(s: &str) -> String {
    let number =
        s.strip_prefix('+').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && !number {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hourly_day_has_every_hour_and_adds_up() {
        use super::super::wallboard::Rates;
        let nine = HourSummary {
            hour: 9,
            calls: Rates { dialed: 10, answered: 4, dropped: 1 },
            handled: 3,
            sales: 1,
            talk_seconds: 300,
        };
        let ten = HourSummary { hour: 10, handled: 1, talk_seconds: 60, ..nine };
        let stray = HourSummary { hour: 24, ..nine };
        let report = HourlyReport {
            hours: HourlyReport::every_hour(&[ten, nine, stray]),
            ..Default::default()
        };
        assert_eq!(report.hours.len(), 24);
        assert!(report.hours.iter().enumerate().all(|(i, h)| usize::from(h.hour) == i));
        assert_eq!(report.hours[9], nine);
        assert_eq!(report.hours[0], HourSummary::default());
        let total = report.total();
        assert_eq!(
            (total.calls.dialed, total.handled, total.sales, total.talk_seconds),
            (20, 4, 2, 360)
        );
        assert_eq!(nine.conversion_percent().map(|p| p.round()), Some(33.0));
        assert_eq!(nine.average_talk_seconds(), Some(100));
        assert_eq!(report.hours[0].average_talk_seconds(), None);
    }

    fn query(f: impl FnOnce(&mut CallQuery)) -> CallQuery {
        let mut q = CallQuery::default();
        f(&mut q);
        q
    }

    #[test]
    fn days_are_whole_utc_days_and_bad_fields_are_named() {
        let q = query(|q| {
            q.from = "2026-12-04".into();
            q.to = " 2026-12-04 ".into();
            q.outcome = "no_answer".into();
            q.campaign = "3".into();
        });
        let f = q.parse().unwrap();
        assert_eq!(f.from, Some(1_796_342_400_000));
        assert_eq!(f.until, Some(1_796_342_400_000 + DAY_MS));
        assert_eq!(
            (f.outcome, f.campaign, f.agent),
            (Some(CallOutcome::NoAnswer), Some(CampaignId(3)), None)
        );
        assert_eq!(day_start("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(day_start("1970-01-01"), Some(0));
        for (field, bad) in [
            ("from", query(|q| q.from = "2026-02-30".into())),
            ("from", query(|q| q.from = "2023-02-29".into())),
            ("from", query(|q| q.from = "04/12/2026".into())),
            ("from", query(|q| q.from = "2026-1-4".into())),
            ("to", query(|q| q.to = "2026-12-04T00:00".into())),
            (
                "to",
                query(|q| {
                    q.from = "2026-12-05".into();
                    q.to = "2026-12-04".into();
                }),
            ),
            ("outcome", query(|q| q.outcome = "exploded".into())),
            ("campaign", query(|q| q.campaign = "-1".into())),
            ("agent", query(|q| q.agent = "a n n".into())),
            ("disposition", query(|q| q.disposition = "A\u{0}B".into())),
        ] {
            assert_eq!(bad.parse().unwrap_err().field(), Some(field), "{bad:?}");
        }
        assert_eq!(CallQuery::default().parse().unwrap(), CallFilter::default());
    }

    #[test]
    fn the_query_string_asks_again_for_what_was_asked() {
        let q = query(|q| {
            q.disposition = "SALE MADE".into();
            q.from = "2026-12-01".into();
        });
        assert_eq!(q.query_string(), "disposition=SALE%20MADE&from=2026-12-01");
        assert_eq!(CallQuery::default().query_string(), "");
    }

    #[test]
    fn csv_lines_are_safe_in_a_spreadsheet() {
        let call = CallRecord {
            call_ref: "run-1".into(),
            dialed_at: 1_796_342_400_000 + 3_723_000,
            campaign: Some("Spring, 2026".into()),
            agent: None,
            phone: "+12025550100".into(),
            lead: "=HYPERLINK(\"x\")".into(),
            outcome: Some(CallOutcome::Answered),
            sip_code: Some(200),
            talk_seconds: Some(61),
            disposition: Some("SALE MADE".into()),
            notes: "line one\nline two".into(),
            amd_verdict: Some(crate::model::AmdVerdict::Human),
            recording: None,
            recording_failed: false,
            key_outcome: None,
            form: crate::model::script::FormValues::stored(r#"{"budget":"=1+1","product":"Gold"}"#),
        };
        let csv = calls_csv(std::slice::from_ref(&call));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("call,dialed_utc,campaign"));
        assert_eq!(
            lines[1],
            "run-1,2026-12-04 01:02:03,\"Spring, 2026\",,+12025550100,\"'=HYPERLINK(\"\"x\"\")\",answered,200,61,SALE MADE,\"line one\nline two\",human,\"budget: =1+1; product: Gold\","
        );
        let pressed =
            CallRecord { key_outcome: Some(crate::model::keypad::KeyOutcome::Dnc), ..call };
        let header: Vec<&str> = CALLS_CSV_HEADER.trim_end().split(',').collect();
        assert_eq!(header.last(), Some(&"key_outcome"), "the newest column comes last");
        assert!(calls_csv_rows(&[pressed]).ends_with(",dnc\r\n"));
    }

    fn at(state: &str, reason: Option<&str>, s: i64) -> StateChange {
        StateChange {
            state: state.into(),
            reason: reason.map(String::from),
            at: 1_000_000 + s * 1000,
        }
    }

    fn session(start: i64, end: Option<i64>) -> Session {
        Session { start: 1_000_000 + start * 1000, end: end.map(|e| 1_000_000 + e * 1000) }
    }

    #[test]
    fn an_agents_day_adds_up_time_in_each_state() {
        let changes = [
            at("paused", Some("logged in"), 0),
            at("ready", None, 30),
            at("reserved", None, 90),
            at("in_call", None, 95),
            at("wrap_up", None, 215),
            at("paused", Some("Lunch"), 245),
            at("ready", None, 1_445),
            at("paused", Some("Break"), 1_505),
            at("logged_out", None, 1_565),
            at("paused", Some("logged in"), 2_000),
        ];
        let sessions = [session(0, Some(1_565)), session(2_000, None)];
        let mut day = AgentDay { handled: 4, sales: 1, ..AgentDay::default() };
        day.tally(&changes, &sessions, 0, 1_000_000 + 2_010 * 1000, true);
        assert_eq!((day.first_activity, day.last_activity), (Some(1_000_000), Some(3_000_000)));
        assert_eq!(day.available_seconds, 60 + 60);
        assert_eq!(day.talk_seconds, 5 + 120);
        assert_eq!(day.wrapup_seconds, 30);
        assert_eq!(day.pause_seconds, 30 + 1_200 + 60 + 10);
        assert_eq!(day.break_seconds, 1_200 + 60);
        assert_eq!(day.login_seconds, 1_565 + 10, "logged out time is not logged in");
        assert_eq!(
            day.pauses,
            [("Lunch".to_string(), 1_200), ("Break".into(), 60), ("logged in".into(), 40)]
        );
        assert_eq!(day.conversion_percent(), Some(25.0));
        assert_eq!(AgentDay::default().conversion_percent(), None);
        // A change stamped after the end (a clock step) counts as nothing, not as negative.
        let mut odd = AgentDay::default();
        odd.tally(&[at("ready", None, 10)], &[session(0, None)], 0, 1_000_000, true);
        assert_eq!(odd.available_seconds, 0);
    }

    #[test]
    fn a_state_carried_over_midnight_counts_from_the_start_of_the_day() {
        // Ready since 100 s before the day (at 1_000 s), a call at 1_050 s, logged out at 1_200 s.
        let changes = [
            at("ready", None, 900),
            at("in_call", None, 1_050),
            at("wrap_up", None, 1_110),
            at("logged_out", None, 1_200),
        ];
        let from = 1_000_000 + 1_000 * 1000;
        let mut day = AgentDay::default();
        day.tally(&changes, &[session(850, Some(1_200))], from, from + 86_400_000, false);
        assert_eq!(day.available_seconds, 50, "from midnight, not from when it began");
        assert_eq!((day.talk_seconds, day.wrapup_seconds, day.login_seconds), (60, 90, 200));
        assert_eq!(
            day.first_activity,
            Some(1_000_000 + 1_050_000),
            "the carried state is no activity of the day"
        );
        // The day before ends at midnight: each second is counted on one day only.
        let mut before = AgentDay::default();
        before.tally(&changes, &[session(850, Some(1_200))], from - 86_400_000, from, false);
        assert_eq!((before.available_seconds, before.login_seconds), (100, 100));
    }

    #[test]
    fn a_session_a_crash_left_open_ends_at_the_next_login() {
        // Ready at 10 s, then the server died (no logged_out row, the session never closed);
        // the agent logged in again at 500 s and logged out at 560 s, which closed every open
        // session of theirs.
        let changes = [
            at("paused", Some("logged in"), 0),
            at("ready", None, 10),
            at("paused", Some("logged in"), 500),
            at("logged_out", None, 560),
        ];
        let sessions = [session(0, Some(560)), session(500, Some(560))];
        let mut day = AgentDay::default();
        day.tally(&changes, &sessions, 0, 1_000_000 + 3_600_000, false);
        assert_eq!(day.available_seconds, 0, "the crash is not counted as Ready");
        assert_eq!(day.pause_seconds, 10 + 60);
        assert_eq!(day.login_seconds, 70);
        // A state carried over midnight from a session that ended before it counts nothing.
        let mut next = AgentDay::default();
        next.tally(&changes[3..], &sessions, 1_000_000 + 600_000, 1_000_000 + 3_600_000, false);
        assert_eq!(next.login_seconds, 0);
        let mut stale = AgentDay::default();
        stale.tally(
            &changes[..2],
            &sessions[..1],
            1_000_000 + 600_000,
            1_000_000 + 3_600_000,
            false,
        );
        assert_eq!(stale.login_seconds, 0, "a Ready carried from a session closed before the day");
        // A session still open: going on now if the agent is logged in, else cut by a crash.
        let until = 1_000_000 + 100_000;
        let mut going = AgentDay::default();
        going.tally(&changes[..2], &[session(0, None)], 0, until, true);
        assert_eq!((going.pause_seconds, going.available_seconds), (10, 90));
        let mut lost = AgentDay::default();
        lost.tally(&changes[..2], &[session(0, None)], 0, until, false);
        assert_eq!((lost.pause_seconds, lost.available_seconds), (10, 0));
    }

    #[test]
    fn a_report_day_is_a_utc_day() {
        let now = 1_796_342_400_000 + 5 * 3_600_000;
        assert_eq!(parse_day("", now).unwrap(), 1_796_342_400_000);
        assert_eq!(parse_day("2026-12-03", now).unwrap(), 1_796_342_400_000 - DAY_MS);
        assert_eq!(parse_day("yesterday", now).unwrap_err().field(), Some("day"));
    }

    #[test]
    fn report_cells_are_safe_in_spreadsheets() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("+12025550100"), "+12025550100");
        // Anything else that starts like a formula is defused, a plus sign included.
        assert_eq!(csv_cell("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(csv_cell("+"), "'+");
        assert_eq!(csv_cell("+1 202"), "'+1 202");
        assert_eq!(csv_cell("\t=1"), "'\t=1");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
