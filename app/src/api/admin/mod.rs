//! The admin portal's server functions, one module per area. Every function checks its
//! role first: admins for anything that changes or configures, admins and supervisors for
//! the read-only dashboard and campaign overviews.

pub mod agents;
pub mod broadcasts;
pub mod campaigns;
pub mod crm;
pub mod dashboard;
pub mod dispositions;
pub mod floor;
pub mod queues;
pub mod reports;
pub mod scripts;
pub mod simulation;
pub mod trunks;
pub mod wallboard;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// Who may change the dialer's setup.
#[cfg(feature = "ssr")]
pub(crate) const EDITORS: &[Role] = &[Role::Admin];

/// Who may watch: the dashboard and the campaign overviews.
#[cfg(feature = "ssr")]
pub(crate) const WATCHERS: &[Role] = &[Role::Admin, Role::Supervisor];

/// An optional id from a form (empty: a new one). Text, because a flattened form struct
/// reads every field as text.
#[cfg(feature = "ssr")]
pub(crate) fn optional_id(raw: &str) -> Result<Option<i64>, crate::model::ApiError> {
    match raw.trim() {
        "" => Ok(None),
        x => x
            .parse::<i64>()
            .map(Some)
            .map_err(|_| crate::model::ApiError::invalid("id", "The request was not understood.")),
    }
}
