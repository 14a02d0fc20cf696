-- Every active campaign is now leased, agent campaigns too: the instance holding a campaign
-- paces it and hosts its agents' shifts, and writes with its lease the address other
-- instances reach it at, so that a phone page landing elsewhere is passed through to it.
ALTER TABLE campaign_pacers ADD COLUMN address TEXT NOT NULL DEFAULT '';
-- Whether an instance takes pacing leases (1) or stopped taking them (0, on its way down):
-- the leases are shared out evenly among the instances that take them.
ALTER TABLE instances ADD COLUMN pacing INTEGER NOT NULL DEFAULT 1;
