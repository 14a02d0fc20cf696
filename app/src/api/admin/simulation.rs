//! The pacing simulator (admins and supervisors): what a campaign's form starts from, and a
//! run of progressive against predictive pacing on the workload entered.

use crate::model::ApiError;
use crate::model::simulation::{SimulationForm, SimulationReport, SimulationSetup};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::WATCHERS, crate::api::guard, crate::model::CampaignId};

/// The campaign's pacing settings and the simulator form filled from it.
#[server(endpoint = "admin/simulation/setup")]
pub async fn load_simulation_setup(campaign: i64) -> Result<SimulationSetup, ApiError> {
    guard::require(WATCHERS)?;
    guard::ports()?.admin.simulation_setup(CampaignId(campaign)).await
}

/// Simulates the workload typed into the form for the campaign, progressive and predictive;
/// a wrong field is refused, named, before anything runs.
#[server(endpoint = "admin/simulation/run")]
pub async fn simulate_pacing(
    campaign: i64,
    #[server(flatten)] form: SimulationForm,
) -> Result<SimulationReport, ApiError> {
    guard::require(WATCHERS)?;
    let workload = form.parse()?;
    guard::ports()?.admin.simulate(CampaignId(campaign), workload).await
}
