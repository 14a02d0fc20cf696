//! Inbound callers across servers. A caller reaches the server whose gateway their carrier
//! chose; the agents who may take them, those of their queue's campaigns, work on the server
//! hosting each campaign (its pacer, or where a preview agent's phone arrived). A server none
//! of whose agents is of the queue's campaigns forwards the caller to a server with such
//! agents, gateway to gateway (`super::gateways::forward`): there the caller is an inbound
//! call like any other — queued, taken, recorded and disposed of there, its lead leased
//! there. Here nothing of it is stored.
//!
//! Which server ([`choose`]): the one with the most ready agents of the queue's campaigns,
//! then the most logged in, as the servers' shared floor snapshots say (`super::floor`),
//! among the live servers whose gateways said where they take SIP — for the first queue of
//! the caller's overflow chain with anyone logged in anywhere, as the engine picks the first
//! staffed queue. None: the caller is served here as on one server (the queue's overflow,
//! voicemail or closed message). As the campaigns of a queue (and of the queue it overflows
//! to) go with one pacing lease (`super::pacers`), that server has every agent who may take
//! the caller.
//!
//! Each server says where its gateways take SIP every [`SAY_EVERY`] (`instances.sip`), and
//! gives its gateways the others' as foreign trunks, so that each takes the callers the
//! others forward and can forward to them. On SQLite (one server) there is nobody to
//! forward to and nothing runs.
//!
//! Invariants: a caller is forwarded at most once — a call in from another server's gateway
//! is served where it arrives, so a stale snapshot never sends a caller round in circles; a
//! caller whom an agent here could take is never forwarded; a forward nothing answered leaves
//! the caller to this server, as if never tried.

use std::net::SocketAddr;
use std::time::Duration;

use app::model::{AgentStatus, CampaignId};
use tokio::task::JoinHandle;

use super::gateways::GatewayPool;
use super::live::Live;
use crate::db::{self, Db, DbError};

/// How often a server says where its gateways take SIP and reads where the others' do.
pub const SAY_EVERY: Duration = Duration::from_secs(2);

/// Where a caller is forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The server.
    pub instance: String,
    /// Its gateway the call goes to.
    pub sip: SocketAddr,
}

/// Starts saying where `pool`'s gateways take SIP under `me`'s row, and giving them the other
/// live servers' (heartbeat within `fresh`), every [`SAY_EVERY`] until aborted.
pub fn start(db: Db, pool: GatewayPool, me: String, fresh: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAY_EVERY);
        loop {
            tick.tick().await;
            let sips = pool.sip_addresses().await;
            if !sips.is_empty()
                && let Err(e) = db::instances::set_sip(&db, &me, &join(&sips)).await
            {
                tracing::warn!(error = %e, "cannot say where this server's gateways take calls");
            }
            let fresh_since = db::now_ms() - fresh.as_millis() as i64;
            match db::instances::peers(&db, &me, fresh_since).await {
                Ok(peers) => {
                    let addresses: Vec<SocketAddr> =
                        peers.iter().flat_map(|p| split(&p.sip)).collect();
                    pool.know_foreign(&addresses).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the other servers' gateways"),
            }
        }
    })
}

/// The server a caller for `campaigns` goes to, if another than `me` has agents of theirs
/// (servers whose heartbeat is at or after `fresh_since`).
pub async fn target(
    db: &Db,
    me: &str,
    campaigns: &[CampaignId],
    fresh_since: i64,
) -> Result<Option<Target>, DbError> {
    let peers = db::instances::peers(db, me, fresh_since).await?;
    let floors: Vec<(String, Vec<SocketAddr>, Live)> = peers
        .into_iter()
        .filter_map(|p| {
            let live = super::floor::parse(p.floor.as_deref()?)?;
            Some((p.name, split(&p.sip), live))
        })
        .collect();
    Ok(choose(&floors, campaigns))
}

/// Of `servers` (name, gateways, floor), the one with the most ready agents of `campaigns`,
/// then the most logged in, then the first by name; none has any: `None`. Its first gateway
/// takes the call.
pub fn choose(
    servers: &[(String, Vec<SocketAddr>, Live)],
    campaigns: &[CampaignId],
) -> Option<Target> {
    servers
        .iter()
        .filter_map(|(name, sips, live)| {
            let theirs = live.agents.iter().filter(|a| campaigns.contains(&a.campaign));
            let (ready, logged_in) = theirs.fold((0usize, 0usize), |(r, n), a| {
                (r + usize::from(a.status == AgentStatus::Ready), n + 1)
            });
            let sip = *sips.first()?;
            (logged_in > 0).then_some(((ready, logged_in), name, sip))
        })
        // (Equal counts: the first name wins, as names compare reversed.)
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, name, sip)| Target { instance: name.clone(), sip })
}

/// Addresses as stored: comma-separated.
fn join(sips: &[SocketAddr]) -> String {
    sips.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Addresses as stored; what does not parse is left out (a row written by hand).
fn split(stored: &str) -> Vec<SocketAddr> {
    stored.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{AgentNow, PauseReason, UserId};

    fn agent(id: i64, campaign: i64, status: AgentStatus) -> AgentNow {
        AgentNow {
            agent: UserId(id),
            campaign: CampaignId(campaign),
            status,
            since: 0,
            phone: None,
            quality: Vec::new(),
            recording: false,
        }
    }

    fn server(name: &str, port: u16, agents: Vec<AgentNow>) -> (String, Vec<SocketAddr>, Live) {
        let sips = vec![SocketAddr::from(([127, 0, 0, 1], port))];
        (name.into(), sips, Live { agents, ..Live::default() })
    }

    #[test]
    fn a_caller_goes_where_most_of_the_queues_agents_are_ready() {
        let paused = AgentStatus::Paused { reason: PauseReason::parse("Break").unwrap() };
        let servers = [
            // Three of campaign 1, none ready.
            server(
                "east",
                5101,
                vec![
                    agent(1, 1, paused.clone()),
                    agent(2, 1, AgentStatus::InCall),
                    agent(3, 1, AgentStatus::WrapUp),
                ],
            ),
            // One ready of campaign 2, one of another campaign.
            server(
                "west",
                5102,
                vec![agent(4, 2, AgentStatus::Ready), agent(5, 9, AgentStatus::Ready)],
            ),
            // Nobody of the queue's.
            server(
                "north",
                5103,
                vec![agent(6, 9, AgentStatus::Ready), agent(7, 9, AgentStatus::Ready)],
            ),
        ];
        let to = choose(&servers, &[CampaignId(1), CampaignId(2)]).unwrap();
        assert_eq!(to, Target { instance: "west".into(), sip: "127.0.0.1:5102".parse().unwrap() });
        // Nobody ready anywhere: the most logged in.
        let to = choose(&servers, &[CampaignId(1)]).unwrap();
        assert_eq!(to.instance, "east");
        // Nobody of the queue's campaigns anywhere: nowhere.
        assert_eq!(choose(&servers, &[CampaignId(3)]), None);
        assert_eq!(choose(&[], &[CampaignId(1)]), None);
    }

    #[test]
    fn ties_go_to_the_first_name_and_a_server_without_gateways_takes_none() {
        let servers = [
            server("b", 2, vec![agent(1, 1, AgentStatus::Ready)]),
            server("a", 1, vec![agent(2, 1, AgentStatus::Ready)]),
            (
                "c".into(),
                Vec::new(),
                Live {
                    agents: vec![agent(3, 1, AgentStatus::Ready), agent(4, 1, AgentStatus::Ready)],
                    ..Live::default()
                },
            ),
        ];
        assert_eq!(choose(&servers, &[CampaignId(1)]).unwrap().instance, "a");
    }

    #[test]
    fn addresses_are_stored_comma_separated_and_read_back() {
        let sips: Vec<SocketAddr> =
            vec!["127.0.0.1:5101".parse().unwrap(), "[::1]:5102".parse().unwrap()];
        assert_eq!(join(&sips), "127.0.0.1:5101,[::1]:5102");
        assert_eq!(split(&join(&sips)), sips);
        assert_eq!(split(" 10.0.0.1:5060 ,nonsense,,"), vec!["10.0.0.1:5060".parse().unwrap()]);
        assert_eq!(split(""), Vec::<SocketAddr>::new());
    }
}
